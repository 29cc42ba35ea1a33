/**
 * Replays a recorded QMP probe conversation (the `.replies` format of
 * libvirt's test data: pretty-printed command and reply objects separated by
 * blank lines) into {@link ProbeData}.
 *
 * A conversation holds one session per process: the first was started with
 * KVM when its `query-kvm` says so, the next ones with TCG. Each session
 * starts with `qmp_capabilities`.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import type { AccelProbeData, ProbeData } from './probe-data.js';
import { recordAnswer } from './probe-record.js';

interface Exchange {
  command: string;
  args: Record<string, unknown> | undefined;
  reply: Record<string, unknown>;
}

export function parseTranscript(text: string): Exchange[] {
  const blocks = text
    .split(/\r?\n[ \t]*\r?\n/)
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const out: Exchange[] = [];
  let line = 1;
  let from = 0;
  const objects: Array<{ value: Record<string, unknown>; line: number }> = [];
  for (const b of blocks) {
    const at = text.indexOf(b, from);
    if (at >= 0) {
      for (let i = text.indexOf('\n', from); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) line++;
      from = at;
    }
    try {
      objects.push({ value: JSON.parse(b) as Record<string, unknown>, line });
    } catch (err) {
      throw new VirError('PARSE_FAILED', 'qemu', `QMP transcript: invalid JSON block near line ${line}`, {
        line,
        cause: err,
      });
    }
  }
  for (let i = 0; i < objects.length; i++) {
    const cmd = objects[i]!;
    if (typeof cmd.value.execute !== 'string') {
      throw new VirError('PARSE_FAILED', 'qemu', `QMP transcript: expected a command near line ${cmd.line}`, {
        line: cmd.line,
      });
    }
    const reply = objects[i + 1];
    if (!reply || typeof reply.value.execute === 'string') {
      throw new VirError(
        'PARSE_FAILED',
        'qemu',
        `QMP transcript: command '${cmd.value.execute}' has no reply`,
        {
          line: cmd.line,
        },
      );
    }
    i++;
    out.push({
      command: cmd.value.execute,
      args: cmd.value.arguments as Record<string, unknown> | undefined,
      reply: reply.value,
    });
  }
  return out;
}

/** Builds probe data from a transcript; `emulator` is the binary path to record. */
export function probeDataFromTranscript(text: string, emulator: string): ProbeData {
  const exchanges = parseTranscript(text);
  const data: ProbeData = { emulator, accel: {} };
  const sessions: Exchange[][] = [];
  for (const ex of exchanges) {
    if (ex.command === 'qmp_capabilities' || sessions.length === 0) sessions.push([]);
    sessions[sessions.length - 1]!.push(ex);
  }
  sessions.forEach((session, index) => {
    const accelData: AccelProbeData = {};
    for (const ex of session) {
      if (!('return' in ex.reply)) continue; // an error answer means "not supported"
      recordAnswer(data, accelData, ex.command, ex.args, ex.reply.return);
    }
    const kvm = index === 0 && data.kvm?.enabled === true;
    if (kvm) data.accel.kvm = accelData;
    else data.accel.tcg ??= accelData;
  });
  return data;
}
