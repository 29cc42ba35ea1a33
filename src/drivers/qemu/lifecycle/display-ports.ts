/**
 * Free TCP ports for graphics that pick theirs when the guest starts
 * (SPICE's `autoport`), from libvirt's remote display range (5900 up).
 * A port is free when this process can listen on it on every address;
 * QEMU takes it moments later.
 *
 * @module
 */
import { createServer } from 'node:net';

const FIRST = 5900;
const LAST = 65535;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** `count` free ports, lowest first. */
export async function freeDisplayPorts(count: number): Promise<number[]> {
  const out: number[] = [];
  for (let p = FIRST; p <= LAST && out.length < count; p++) if (await canListen(p)) out.push(p);
  return out;
}
