/**
 * Run as a separate Node process by the re-attach tests: starts one guest,
 * prints `{"pid": N}` on stdout, then either exits at once (`exit`) or waits
 * to be killed (`wait`), leaving QEMU running behind it.
 */
import {
  QemuDomainRunner,
  type RunnerCommand,
  type RunnerGuest,
} from '../../../src/drivers/qemu/lifecycle/index.js';

const [json = '{}', mode = 'exit'] = process.argv.slice(2);
const input = JSON.parse(json) as {
  stateRoot: string;
  logRoot: string;
  guest: RunnerGuest;
  command: RunnerCommand;
};
const runner = new QemuDomainRunner(input.guest, { stateRoot: input.stateRoot, logRoot: input.logRoot });
await runner.start({ command: input.command });
process.stdout.write(`${JSON.stringify({ pid: runner.pid })}\n`);
if (mode === 'exit') process.exit(0);
setInterval(() => {}, 60_000);
