/**
 * Run as a separate Node process by the second-process tests: opens
 * qemu:///session on the roots it is given (the same ones the test process
 * uses), does the listed actions on one domain and prints what each gave as
 * one JSON line: `{ openMs, results: { action: { value } | { code, message } } }`;
 * with `hold` it then stays, as a service would, until it is killed.
 */
import { connect } from '../../../src/connection.js';

const input = JSON.parse(process.argv[2] ?? '{}') as {
  driverOptions: Record<string, unknown>;
  name: string;
  xml?: string;
  actions: string[];
  /** Print the results, then keep running (and owning what was started) until killed. */
  hold?: boolean;
};
const t0 = Date.now();
const conn = await connect('qemu:///session', { driverOptions: input.driverOptions });
const results: Record<string, unknown> = {};
const listed = await conn.listDomains();
const openMs = Date.now() - t0;
results.list = { value: listed.map((d) => d.name) };
for (const action of input.actions) {
  try {
    const dom = await conn.lookupDomain(input.name);
    let value: unknown;
    switch (action) {
      case 'state':
        value = await dom.getState();
        break;
      case 'active':
        value = (await conn.listDomains({ active: true })).map((d) => `${d.name}/${d.id}`);
        break;
      case 'id':
        value = dom.id;
        break;
      case 'info':
        value = (await dom.getInfo()).maxMem;
        break;
      case 'xml-id':
        value = /<domain [^>]*id='(\d+)'/.exec(await dom.getXML())?.[1];
        break;
      case 'redefine':
        value = (await conn.defineDomain(input.xml ?? '')).name;
        break;
      case 'undefine':
      case 'destroy':
      case 'suspend':
      case 'resume':
      case 'start':
        await dom[action]();
        value = 'done';
        break;
      default:
        throw new Error(`unknown action ${action}`);
    }
    results[action] = { value };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    results[action] = { code: e.code ?? 'none', message: e.message ?? String(err) };
  }
}
if (input.hold) {
  process.stdout.write(`${JSON.stringify({ openMs, results })}\n`);
  setInterval(() => {}, 60_000);
} else {
  await conn.close();
  process.stdout.write(`${JSON.stringify({ openMs, results })}\n`);
  process.exit(0);
}
