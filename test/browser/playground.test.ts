// The playground page (examples/playground/, `npm run playground`) in Debian's
// Chromium, driven as a user would: load a sample, validate, explain the guest
// CPU on a host, compare with several hosts and baseline them; plan a fleet in the
// Fleet tab. What the page shows is what the library says in Node for the same
// input. A screenshot of the page after the run is kept at
// artifacts/browser/playground.png (ignored by git; CI keeps it as an artifact),
// the Fleet tab's at artifacts/browser/playground-fleet.png.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlayground } from '../../scripts/build-playground.js';
import { CpuDef } from '../../src/conf/index.js';
import {
  baselineCpu,
  compareCpu,
  cpuModel,
  planFleet,
  qemuCpuArg,
  resolveGuestCpu,
} from '../../src/cpu/index.js';
import { REPO_ROOT } from '../shared-data.js';
import { CHROMIUM_MISSING, serve, withPage } from './chromium.js';

export const SCREENSHOT = join(REPO_ROOT, 'artifacts/browser/playground.png');
export const FLEET_SCREENSHOT = join(REPO_ROOT, 'artifacts/browser/playground-fleet.png');
const CAPS_FIXTURE = join(REPO_ROOT, 'fixtures/capabilities/qemu-session-x86_64.xml');

const hostCpu = (model: string) =>
  CpuDef.fromXML(
    `<cpu><arch>x86_64</arch><model>${model}</model><vendor>${cpuModel(model)?.vendor}</vendor></cpu>`,
  );

// A CPU document with a schema error on line 2 (libvirt's schema has no fallback='never')
const INVALID_CPU = "<cpu mode='custom' match='exact'>\n  <model fallback='never'>Haswell</model>\n</cpu>";

describe.skipIf(CHROMIUM_MISSING !== undefined)(
  `the playground page in Chromium${CHROMIUM_MISSING ? ` (skipped: ${CHROMIUM_MISSING})` : ''}`,
  () => {
    let out = '';
    let server: Awaited<ReturnType<typeof serve>> | undefined;

    beforeAll(async () => {
      out = mkdtempSync(join(tmpdir(), 'virtkit-playground-'));
      const files = await buildPlayground(out);
      expect(files.map((f) => f.file)).toEqual(
        expect.arrayContaining(['index.html', 'playground.js', 'style.css']),
      );
      server = await serve(out);
    }, 60_000);

    afterAll(async () => {
      await server?.close();
      if (out) rmSync(out, { recursive: true, force: true });
    });

    const text = (page: Page, selector: string) =>
      page.$eval(selector, (e) => (e as HTMLElement).innerText.trim());
    const state = (page: Page, id: string) =>
      page.waitForFunction(`document.getElementById('${id}').dataset.state !== undefined`, {
        timeout: 20_000,
      });

    async function setXml(page: Page, xml: string): Promise<void> {
      await page.$eval(
        '#xml',
        (e, v) => {
          (e as HTMLTextAreaElement).value = v;
        },
        xml,
      );
    }

    it('validates with lines, explains the CPU policy, compares and baselines hosts', async () => {
      await withPage(async (page, errors) => {
        await page.setViewport({ width: 1200, height: 900 });
        await page.goto(`${server?.base}/index.html`);
        await page.waitForFunction("document.documentElement.dataset.ready === 'yes'", { timeout: 20_000 });

        // 1. schema validation, with the line of the error
        await setXml(page, INVALID_CPU);
        await page.click('#validate');
        await state(page, 'validation');
        expect(await page.$eval('#validation', (e) => (e as HTMLElement).dataset.state)).toBe('invalid');
        const lines = await page.$$eval('#validation li', (lis) =>
          lis.map((li) => (li as HTMLElement).dataset.line),
        );
        expect(lines).toContain('2');
        await page.$eval('#validation', (e) => delete (e as HTMLElement).dataset.state);
        await page.click('button[data-sample="domain"]');
        await page.click('#validate');
        await state(page, 'validation');
        expect(await text(page, '#validation')).toBe('valid domain XML');

        // a file loaded from disk: a real host's capabilities
        await page.$eval('#validation', (e) => delete (e as HTMLElement).dataset.state);
        const input = await page.$('input#file');
        expect(input).not.toBeNull();
        await input?.uploadFile(join(REPO_ROOT, 'fixtures/capabilities/qemu-session-x86_64.xml'));
        await page.waitForFunction("document.getElementById('xml').value.includes('<capabilities>')");
        await page.click('#validate');
        await state(page, 'validation');
        expect(await text(page, '#validation')).toBe('valid capability XML');

        // 2. the sample guest CPU on a Haswell-noTSX host, feature by feature
        await page.click('button[data-sample="cpu"]');
        const guestXml = await page.$eval('#xml', (e) => (e as HTMLTextAreaElement).value);
        await page.select('#host', 'Haswell-noTSX');
        await page.click('#explain');
        await state(page, 'explanation');
        const resolved = resolveGuestCpu(CpuDef.fromXML(guestXml), hostCpu('Haswell-noTSX'), {
          allowViolations: true,
        });
        const rows = await page.$$eval('#explanation tr[data-feature]', (trs) =>
          trs.map((tr) => [(tr as HTMLElement).dataset.feature, tr.className, tr.children[3]?.textContent]),
        );
        expect(rows).toEqual(resolved.features.map((f) => [f.name, f.enabled ? 'on' : 'off', f.source]));
        // the guest's own policies: aes disabled, avx2 required (and Haswell-noTSX has it)
        expect(rows).toContainEqual(['aes', 'off', 'explicit']);
        expect(rows).toContainEqual(['avx2', 'on', 'explicit']);
        expect(await text(page, '#cpu-arg')).toBe(`-cpu ${qemuCpuArg(resolved)}`);

        // the same guest on the host of the capabilities loaded before (an AMD host: the vendor differs)
        await page.select('#host', 'pasted');
        await page.$eval('#explanation', (e) => delete (e as HTMLElement).dataset.state);
        await page.click('#explain');
        await state(page, 'explanation');
        const capsHost = CpuDef.fromXML(
          /<host>[\s\S]*?(<cpu>[\s\S]*?<\/cpu>)/.exec(
            readFileSync(join(REPO_ROOT, 'fixtures/capabilities/qemu-session-x86_64.xml'), 'utf8'),
          )?.[1] ?? '',
        );
        const onCaps = resolveGuestCpu(CpuDef.fromXML(guestXml), capsHost, { allowViolations: true });
        expect(onCaps.violations.map((v) => v.policy)).toContain('vendor');
        expect(await page.$eval('#explanation', (e) => (e as HTMLElement).dataset.state)).toBe('violations');
        expect(
          await page.$$eval('#explanation tr[data-feature]', (trs) =>
            trs.map((tr) => [(tr as HTMLElement).dataset.feature, tr.className]),
          ),
        ).toEqual(onCaps.features.map((f) => [f.name, f.enabled ? 'on' : 'off']));

        // 3. compare with two Intel hosts and baseline them
        for (const id of ['Westmere', 'Icelake-Server']) await page.click(`#hosts input[value="${id}"]`);
        await page.click('#compare');
        await state(page, 'comparison');
        const compared = await page.$$eval('#comparison tr[data-host]', (trs) =>
          trs.map((tr) => tr.children[1]?.textContent),
        );
        const guest = CpuDef.fromXML(guestXml);
        expect(compared).toEqual(
          ['Westmere', 'Icelake-Server'].map((m) => compareCpu(hostCpu(m), guest).result),
        );
        // Westmere has no AVX2, which the guest requires
        expect(compared[0]).toBe('INCOMPATIBLE');
        const baseline = await text(page, '#baseline');
        expect(baseline).toBe(
          baselineCpu([hostCpu('Westmere'), hostCpu('Icelake-Server')])
            .toXML()
            .trim(),
        );
        // what `virsh -c test:///default cpu-baseline` (libvirt 9.0) prints for these two hosts
        expect(baseline).toBe(
          "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>Westmere</model>\n  <vendor>Intel</vendor>\n</cpu>",
        );

        mkdirSync(join(REPO_ROOT, 'artifacts/browser'), { recursive: true });
        await page.screenshot({ path: SCREENSHOT as `${string}.png`, fullPage: true });
        expect(errors).toEqual([]);
      });
    }, 120_000);

    it('the fleet tab: a matrix of two hosts of different generations, the blocker named', async () => {
      // The guest requires avx512f: the real host of the capabilities fixture (an AMD Zen 4
      // host) lists it, the EPYC-Milan host (the model exactly, from libvirt's CPU map) has none.
      const capsXml = readFileSync(CAPS_FIXTURE, 'utf8');
      expect(capsXml).toContain("<feature name='avx512f'/>");
      expect(cpuModel('EPYC-Milan')?.features).not.toContain('avx512f');
      const guestXml =
        "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>Westmere</model>\n" +
        "  <feature policy='require' name='avx512f'/>\n</cpu>";
      const domainXml = readFileSync(join(REPO_ROOT, 'fixtures/domain/web-server.xml'), 'utf8');
      await withPage(async (page, errors) => {
        await page.setViewport({ width: 1200, height: 900 });
        await page.goto(`${server?.base}/index.html`);
        await page.waitForFunction("document.documentElement.dataset.ready === 'yes'", { timeout: 20_000 });
        await page.click('#tab-fleet');
        expect(await page.$eval('#panel-cpu', (e) => (e as HTMLElement).hidden)).toBe(true);

        // hosts: a capabilities file loaded from disk, and a shipped host picked
        const files = await page.$('input#fleet-files');
        await files?.uploadFile(CAPS_FIXTURE);
        await page.waitForFunction("document.querySelectorAll('#fleet-hosts li').length === 1");
        await page.select('#fleet-shipped', 'EPYC-Milan');
        await page.click('#fleet-add-shipped');
        expect(
          await page.$$eval('#fleet-hosts li', (lis) => lis.map((li) => (li as HTMLElement).dataset.host)),
        ).toEqual(['qemu-session-x86_64', 'EPYC-Milan']);

        // a bad guest is refused in words (the VirError's code and message), not a blank page
        const typeGuest = async (name: string, xml: string) => {
          await page.$eval('#fleet-guest-name', (e, v) => ((e as HTMLInputElement).value = v), name);
          await page.$eval('#fleet-guest-xml', (e, v) => ((e as HTMLTextAreaElement).value = v), xml);
          await page.click('#fleet-add-guest');
        };
        await typeGuest('bogus', "<cpu mode='custom'><model>NoSuchModel</model></cpu>");
        await state(page, 'fleet-guest-error');
        expect(await text(page, '#fleet-guest-error')).toMatch(/^INVALID_ARG: .*NoSuchModel/);

        // guests: one that fits only the newer host, and a host-model domain
        await typeGuest('avx512', guestXml);
        await typeGuest('', domainXml);
        expect(
          await page.$$eval('#fleet-guests li', (lis) => lis.map((li) => (li as HTMLElement).dataset.guest)),
        ).toEqual(['avx512', 'web-01']);
        await page.click('#fleet-plan');
        await state(page, 'fleet-result');
        expect(await page.$eval('#fleet-result', (e) => (e as HTMLElement).dataset.state)).toBe('ok');

        const cells = await page.$$eval('#fleet-matrix td.cell', (tds) =>
          tds.map((td) => {
            const d = (td as HTMLElement).dataset;
            return [d.guest, d.host, d.start, d.migrate];
          }),
        );
        // libvirt's rule: a required feature the host lacks blocks the start; the guest runs on
        // the newer host, and the older one cannot receive it for the same reason
        expect(cells.slice(0, 2)).toEqual([
          ['avx512', 'qemu-session-x86_64', 'yes', 'yes'],
          ['avx512', 'EPYC-Milan', 'no', 'no'],
        ]);
        const blocked = await page.$$eval('#fleet-blockers li[data-guest="avx512"]', (lis) =>
          lis.map((li) => [
            (li as HTMLElement).dataset.host,
            (li as HTMLElement).dataset.verdict,
            li.querySelector('span')?.dataset.features,
          ]),
        );
        expect(blocked).toEqual([
          ['EPYC-Milan', 'start', 'avx512f'],
          ['EPYC-Milan', 'migrate', 'avx512f'],
        ]);
        const tip = await page.$eval(
          '#fleet-matrix td[data-guest="avx512"][data-host="EPYC-Milan"] span[data-verdict="start"]',
          (e) => (e as HTMLElement).title,
        );
        expect(tip).toMatch(/^avx512f: policy 'require'/);
        // what if it dropped avx512f: the older host could take it
        expect(
          await text(page, '#fleet-whatif-answers li[data-guest="avx512"][data-feature="avx512f"]'),
        ).toContain('could start on EPYC-Milan');

        // the whole matrix and the groups are what the library says in Node for the same input
        const plan = planFleet({
          hosts: [
            { name: 'qemu-session-x86_64', capabilities: capsXml },
            { name: 'EPYC-Milan', cpu: hostCpu('EPYC-Milan') },
          ],
          guests: [
            { name: 'avx512', guest: guestXml },
            { name: 'web-01', guest: domainXml },
          ],
        });
        expect(cells).toEqual(
          plan.guests.flatMap((g) =>
            g.cells.map((c) => [
              g.name,
              c.host,
              c.canStart.ok ? 'yes' : 'no',
              c.canReceiveMigration.ok ? 'yes' : 'no',
            ]),
          ),
        );
        const groups = await page.$$eval('#fleet-groups .group', (gs) =>
          gs.map((g) => [(g as HTMLElement).dataset.group, g.querySelector('pre')?.textContent]),
        );
        expect(groups).toEqual(plan.groups.map((g) => [g.name, g.baseline?.toXML()]));

        mkdirSync(join(REPO_ROOT, 'artifacts/browser'), { recursive: true });
        await page.screenshot({ path: FLEET_SCREENSHOT as `${string}.png`, fullPage: true });
        expect(errors).toEqual([]);
      });
    }, 120_000);
  },
);
