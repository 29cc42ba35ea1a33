// `driverOptions` is typed by the URI: these lines are checked by `tsc --noEmit`
// (a `@ts-expect-error` that stops failing fails the typecheck), and the
// run-time half checks that the URI-to-driver rule of the types is the registry's.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { connect } from '../../src/connection.js';
import type {
  AnyDriverOptions,
  DriverOptionsFor,
  OtherDriverOptions,
  QemuDriverOptions,
  RemoteDriverOptions,
  TestDriverOptions,
} from '../../src/driver-options.js';
import { TestControl } from '../../src/drivers/test/index.js';

// never called: only type-checked
async function typeChecks(): Promise<void> {
  await connect('test:///default', { driverOptions: { control: new TestControl() } });
  // @ts-expect-error: a misspelt option
  await connect('test:///default', { driverOptions: { contrl: new TestControl() } });
  await connect('qemu:///session', {
    driverOptions: { cacheDir: null, kvm: false, emulators: ['/usr/bin/qemu'] },
  });
  // @ts-expect-error: a remote option given to the local QEMU driver
  await connect('qemu:///session', { driverOptions: { keepaliveCount: 3 } });
  await connect('qemu+ssh://root@host/system', { driverOptions: { keepaliveInterval: 0 } });
  // @ts-expect-error: a QEMU root given to the remote driver
  await connect('qemu+ssh://root@host/system', { driverOptions: { runDir: '/run' } });
  // @ts-expect-error: a wrong type
  await connect('test+unix:///default', { driverOptions: { keepaliveCount: '5' } });
  const uri: string = 'test:///default';
  await connect(uri, { driverOptions: { control: new TestControl(), keepaliveCount: 1 } });
  // @ts-expect-error: unknown to every driver
  await connect(uri, { driverOptions: { cachedir: '/tmp' } });
}

describe('driverOptions types', () => {
  it('follow the driver the URI selects', () => {
    expectTypeOf<DriverOptionsFor<'test:///default'>>().toEqualTypeOf<TestDriverOptions>();
    expectTypeOf<DriverOptionsFor<'test:///tmp/node.xml'>>().toEqualTypeOf<TestDriverOptions>();
    expectTypeOf<DriverOptionsFor<'qemu:///system'>>().toEqualTypeOf<QemuDriverOptions>();
    expectTypeOf<DriverOptionsFor<'qemu+tcp://h/system'>>().toEqualTypeOf<RemoteDriverOptions>();
    expectTypeOf<DriverOptionsFor<'test://host/default'>>().toEqualTypeOf<RemoteDriverOptions>();
    expectTypeOf<DriverOptionsFor<'remote:///'>>().toEqualTypeOf<RemoteDriverOptions>();
    expectTypeOf<DriverOptionsFor<'xen:///'>>().toEqualTypeOf<OtherDriverOptions>();
    expectTypeOf<DriverOptionsFor<string>>().toEqualTypeOf<AnyDriverOptions>();
    expect(typeof typeChecks).toBe('function');
  });

  it('are checked at run time as well', async () => {
    const options: Record<string, unknown> = { control: 'not a control' };
    await expect(connect('test:///default', { driverOptions: options })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
  });
});
