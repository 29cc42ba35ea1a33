/**
 * The QEMU driver's snapshot create and revert flags, with libvirt's QEMU
 * rules: which combinations are refused before anything happens, and the
 * guest agent freeze around a `quiesce`d snapshot.
 *
 * Taken: `halt` (the guest stopped afterwards, `stopped/from snapshot`),
 * `noMetadata`, `diskOnly`, `reuseExt`, `quiesce` (disk-only, through the
 * guest agent), `atomic` (every snapshot here is all-or-none: one QEMU job
 * or one `transaction`), `validate`, `redefine` with `current`
 * (`snapshot-redefine.ts`), `live` (only for an external memory snapshot
 * of a running guest, as libvirt: `snapshot-memory.ts`).
 *
 * Revert flags: `running` / `paused` (the facade refuses both at once),
 * `force`, `resetNvram` (a UEFI guest's NVRAM made again from its template
 * before the guest starts: `lifecycle/nvram-file.ts`).
 *
 * @module
 */
import type { SnapshotCreateOptions } from '../../../driver.js';
import { AGENT_DEFAULT_TIMEOUT_MS } from '../../../driver-agent.js';
import { VirError } from '../../../errors.js';
import { parseReply } from './agent-client.js';
import { AgentSession } from './agent-session.js';
import { type Entry, isActive } from './domain-entry.js';

const FLAG = (n: string) => `VIR_DOMAIN_SNAPSHOT_CREATE_${n}`;

/**
 * libvirt's checks of the create flags against each other and the domain;
 * `memoryExternal`: the document asks for `<memory snapshot='external'>`.
 */
export function checkCreateFlags(e: Entry, f: SnapshotCreateOptions, memoryExternal = false): void {
  if (f.quiesce && !f.diskOnly)
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      `Flag '${FLAG('DISK_ONLY')}' is required by flag '${FLAG('QUIESCE')}'`,
    );
  if (f.live && f.redefine)
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      `Flags '${FLAG('LIVE')}' and '${FLAG('REDEFINE')}' are mutually exclusive`,
    );
  if (f.halt && !e.config)
    throw new VirError('OPERATION_INVALID', 'qemu', 'cannot halt after transient domain snapshot');
  // a redefine takes nothing: the flags about taking one do not apply (`snapshot-redefine.ts`)
  if (f.redefine) return;
  // libvirt takes LIVE only with an external memory snapshot of a running guest
  if (f.live && (!isActive(e) || !memoryExternal))
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      'live snapshot creation is supported only during full system snapshots',
      {
        field: 'flags.live',
      },
    );
  if (f.quiesce && !isActive(e))
    throw new VirError(
      'OPERATION_INVALID',
      'qemu',
      `domain '${e.name}' is not running: no file system to quiesce`,
      {
        field: 'flags.quiesce',
      },
    );
}

async function agentCall(session: AgentSession, execute: string, signal?: AbortSignal): Promise<void> {
  const line = await session.send(JSON.stringify({ execute }), {
    timeout: AGENT_DEFAULT_TIMEOUT_MS,
    signal,
    name: execute,
  });
  const reply = line === undefined ? undefined : parseReply(line);
  const err = reply?.error as { desc?: unknown } | undefined;
  if (!reply || err)
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `unable to ${execute === 'guest-fsfreeze-freeze' ? 'freeze' : 'thaw'} guest filesystems: ${
        typeof err?.desc === 'string' ? err.desc : 'no reply'
      }`,
      { field: 'flags.quiesce' },
    );
}

/**
 * Runs `take` with the guest's file systems frozen by its agent
 * (`guest-fsfreeze-freeze`, then `-thaw` whatever `take` did). A guest
 * without an agent channel, or whose agent is not connected, is refused
 * before anything is taken.
 */
export async function quiesced<T>(e: Entry, take: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  let session: AgentSession;
  try {
    session = AgentSession.of(e.runner!, e.live!);
  } catch (err) {
    throw new VirError('AGENT_UNRESPONSIVE', 'qemu', `domain '${e.name}' has no guest agent to quiesce it`, {
      field: 'flags.quiesce',
      cause: err,
    });
  }
  await agentCall(session, 'guest-fsfreeze-freeze', signal);
  try {
    return await take();
  } finally {
    await agentCall(session, 'guest-fsfreeze-thaw');
  }
}
