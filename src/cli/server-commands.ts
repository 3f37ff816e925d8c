import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { Config } from '../config.ts';
import { createLogger } from '../log.ts';
import { type CommandContext, examples, wholeNumber } from './command-context.ts';
import { stopInOrder } from './stop-in-order.ts';

const rate = (value: string) => {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a fraction from 0 to 1');
  return n;
};

async function serve(cfg: Config): Promise<void> {
  const log = createLogger(cfg.logLevel);
  const { startUsher } = await import('../main.ts');
  const usher = await startUsher(cfg, { log });
  stopInOrder(() => usher.close(), log);
}

/** Running Usher, the demo and the sandbox Cal.com, and sending a sample webhook. */
export function registerServerCommands(program: Command, ctx: CommandContext): void {
  program
    .command('serve')
    .description('run the webhook receiver, worker, admin API and room board (never the demo)')
    .addHelpText('after', examples('CAL_API_KEY=… CAL_WEBHOOK_SECRET=… USHER_ADMIN_TOKEN=… usher serve'))
    .action(() => serve(ctx.config(true)));

  program
    .command('demo')
    .description('the demo: a sandbox Cal.com with a small clinic, simulated patients and Usher, local secrets')
    .option('--reset', "start afresh: the demo's store and its sandbox Cal.com are emptied together")
    .addHelpText('after', examples('usher demo', 'usher demo --reset', 'USHER_DEMO_SPEED=5 usher demo'))
    // Always the sandbox, never a real Cal.com account, whatever CAL_API_KEY says.
    .action(async (o: { reset?: boolean }) =>
      (await import('./demo.ts')).runStart({ ...ctx.env, CAL_API_KEY: '' }, { reset: o.reset === true }),
    );

  program
    .command('start')
    .description('what `npm start` runs: with CAL_API_KEY, serve; without, the demo')
    .addHelpText('after', examples('usher start', 'CAL_API_KEY=cal_live_… usher start'))
    .option('--reset', 'with the demo: start it afresh')
    .action(async (o: { reset?: boolean }) => (await import('./demo.ts')).runStart(ctx.env, { reset: o.reset === true }));

  program
    .command('sandbox')
    .description('run the Cal.com sandbox alone (the demo clinic by default)')
    .option('--port <port>', 'where it listens', wholeNumber(0, 65_535), 3100)
    .option('--seed <file>', 'a seed file (event types, hosts, API keys)')
    .option('--state <file>', 'keep bookings and subscriptions in this JSON file across runs')
    .option('--drop-rate <r>', 'fraction of webhooks never sent', rate, 0)
    .option('--duplicate-rate <r>', 'fraction of webhooks sent twice', rate, 0)
    .option('--delay-ms <ms>', 'delay before each webhook', wholeNumber(0, 600_000), 0)
    .addHelpText('after', examples('usher sandbox --port 3100 --drop-rate 0.1 --state sandbox.json'))
    .action(async (o: { port: number; seed?: string; state?: string; dropRate: number; duplicateRate: number; delayMs: number }) => {
      const { Sandbox } = await import('../sandbox/sandbox-server.ts');
      const { loadSeed } = await import('../sandbox/load-seed.ts');
      const sandbox = new Sandbox({ seed: loadSeed(o.seed) });
      if (o.state && existsSync(o.state)) sandbox.state.restore(JSON.parse(readFileSync(o.state, 'utf8')));
      sandbox.sender.faults = { dropRate: o.dropRate, duplicateRate: o.duplicateRate, delayMs: o.delayMs };
      const url = await sandbox.listen(o.port);
      process.stdout.write(
        `sandbox Cal.com at ${url} (API keys: ${[...sandbox.state.apiKeys.keys()].join(', ')}; faults: PUT ${url}/_sandbox/faults)\n`,
      );
      const stop = () =>
        void sandbox.close().then(() => {
          if (o.state) writeFileSync(o.state, JSON.stringify(sandbox.state, null, 2));
          process.exit(0);
        });
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });

  program
    .command('trigger')
    .description('send one signed, realistic Cal.com webhook about a sample booking (default: to this usher)')
    .argument('<trigger>', 'PING, BOOKING_CREATED, BOOKING_REQUESTED, BOOKING_CANCELLED, …')
    .option('--to <url>', 'the webhook URL (default: this usher’s /webhooks/cal)')
    .addHelpText('after', examples('usher trigger BOOKING_CREATED', 'usher trigger PING --to https://usher.example/webhooks/cal'))
    .action(async (trigger: string, o: { to?: string }, cmd: Command) => {
      const { sendTrigger, TRIGGER_NAMES } = await import('./send-trigger.ts');
      if (!TRIGGER_NAMES.includes(trigger))
        cmd.error(`error: unknown trigger ${trigger}; one of ${TRIGGER_NAMES.join(', ')}`, { exitCode: 2 });
      const { devEnvironment } = await import('./dev-environment.ts');
      const { config } = await import('./cli-support.ts');
      const cfg = config(await devEnvironment(ctx.env), false);
      const sent = await sendTrigger(trigger, o.to ?? `http://${cfg.host}:${cfg.port}/webhooks/cal`, cfg.cal.webhookSecret);
      ctx.output(cmd).record(sent);
    });
}
