// The story the browser tests read, set up with the command-line programs as tools/demo does: head
// office's plan for site S1 and units U1 and U7 (periods 2026-11 and 2026-12, products P1 and P2,
// workers, two shift leaders, quotas, a rule set; U7 and worker W3 are named like a script), two
// accounts, the server serving; two terminals enroll in U1, record a shift each offline while the
// server is down, sync when it is back, then both correct Boris's hours without seeing each
// other's change: a conflict head office decides.
import { HeadOffice, Terminal } from './world.mjs';

export const kPassword = 'correct horse battery staple';
export const kScriptName = '<script>alert(1)</script>';
export const kPeriod = '2026-11';
export const kLaterPeriod = '2026-12';

// What the terminals recorded, for the overview's figures: U1 in 2026-11.
export const kRecorded = {
  P1: { quota: '500', actual: '530', fulfilment: '106.0 %', above: '30' },     // 320 + 210
  P2: { quota: '250.000', actual: '12.500', fulfilment: '5.0 %', above: '0.000' },
};

export async function make_scenario() {
  const office = new HeadOffice();
  const hq = (args, input) => office.run(args, input);
  hq(['init']);
  hq(['site', 'add', 'S1', '--name', 'Plant One', '--tz', 'UTC']);
  hq(['unit', 'add', 'U1', '--site', 'S1', '--name', 'Press shop']);
  hq(['unit', 'add', 'U7', '--site', 'S1', '--name', kScriptName]);
  hq(['period', 'add', kPeriod, '--start', '2026-11-01', '--end', '2026-11-30']);
  hq(['period', 'add', kLaterPeriod, '--start', '2026-12-01', '--end', '2026-12-31']);
  hq(['product', 'add', 'P1', '--name', 'Bracket', '--unit', 'pcs', '--decimals', '0']);
  hq(['product', 'add', 'P2', '--name', 'Powder coat', '--unit', 'kg', '--decimals', '3']);
  const people = [['worker', 'W1', 'Anna', '1111'], ['worker', 'W2', 'Boris', '2222'],
                  ['worker', 'W3', kScriptName, '3333'], ['leader', 'L1', 'Lena', '4321'],
                  ['leader', 'L2', 'Marek', '8765']];
  for (const [kind, id, name, pin] of people) {
    hq([kind, 'add', id, '--site', 'S1', '--name', name, '--pin-cost', 'minimum'], `${pin}\n`);
  }
  hq(['quota', 'set', '--unit', 'U1', '--period', kPeriod, '--product', 'P1', '--quantity', '500']);
  hq(['quota', 'set', '--unit', 'U1', '--period', kPeriod, '--product', 'P2', '--quantity', '250']);
  hq(['quota', 'set', '--unit', 'U1', '--period', kLaterPeriod, '--product', 'P1', '--quantity', '500']);
  hq(['quota', 'set', '--unit', 'U7', '--period', kPeriod, '--product', 'P1', '--quantity', '10']);
  hq(['rules', 'set', '--from', '2026-01-01', '--pool-share-permille', '750', '--special-weight-permille', '500',
      '--skill-points', '100', '--innovation-points', '50']);
  hq(['account', 'create', '--name', 'anna'], `${kPassword}\n`);
  hq(['account', 'create', '--name', 'boris'], `${kPassword}\n`);
  await office.start();

  const t1 = new Terminal(office, 'T1');
  const t2 = new Terminal(office, 'T2');
  for (const t of [t1, t2]) {
    t.run(['init']);
    t.enroll(['U1']);
    t.sync();
  }

  // The network goes down; each terminal records its shift of 16 November, offline.
  await office.stop();
  t1.run(['login', 'L1'], '4321\n');
  t1.run(['shift', 'open', '--unit', 'U1', '--date', '2026-11-16', '--name', 'early']);
  t1.run(['log', 'hours', '--worker', 'W1', '--start', '06:00', '--end', '14:00']);
  t1.run(['log', 'hours', '--worker', 'W3', '--start', '06:00', '--end', '14:00', '--special']);
  t1.run(['log', 'output', '--product', 'P1', '--quantity', '320']);
  t1.run(['log', 'output', '--product', 'P2', '--quantity', '12.5']);
  t1.run(['shift', 'close']);
  t2.run(['login', 'L2'], '8765\n');
  t2.run(['shift', 'open', '--unit', 'U1', '--date', '2026-11-16', '--name', 'late']);
  t2.run(['log', 'hours', '--worker', 'W2', '--start', '14:00', '--end', '22:00']);
  t2.run(['log', 'output', '--product', 'P1', '--quantity', '210']);
  t2.run(['shift', 'close']);

  // It comes back (on another free port); both sync, terminal 1 twice to see terminal 2's.
  await office.start();
  t1.sync();
  t2.sync();
  t1.sync();

  // Both correct Boris's hours, neither seeing the other's correction: a fork of his entry.
  const boris = t1.json(['list']).entries.find((e) => e.kind === 'hours' && e.worker === 'W2');
  if (!boris) throw new Error("terminal 1 does not show terminal 2's hours of W2 after syncing");
  t1.run(['correct', boris.id.slice(0, 12), '--end', '21:00', '--reason', 'Boris says he left at 21:00']);
  t2.run(['correct', boris.id.slice(0, 12), '--end', '22:30', '--reason', 'The gate log says 22:30']);
  t1.sync();
  t2.sync();
  t1.sync();
  return { office, t1, t2, boris: boris.id };
}
