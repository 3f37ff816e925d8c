import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import type { Env } from '../config.ts';
import { describeError, type ErrorCode, isUsherError } from '../errors.ts';
import { registerBookingCommands } from './booking-commands.ts';
import { registerDoctorCommands } from './doctor-commands.ts';
import { commandContext } from './command-context.ts';
import { registerGateCommands } from './gate-commands.ts';
import { registerInsightsCommands } from './insights-commands.ts';
import { registerRoomCommands } from './room-commands.ts';
import { registerServerCommands } from './server-commands.ts';
import { registerWorkCommands } from './work-commands.ts';

// Each command is declared once (its arguments, options, help and example) in the register* files,
// and does its work through the one operations interface (src/operations/operations.ts): on the
// store beside it, or through another machine's admin API (USHER_ADMIN_URL). The server, the demo,
// the sandbox and Cal.com's client load only for the commands that use them.

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function usherProgram(env: Env): Command {
  const program = new Command('usher')
    .description('the back office beside Cal.com: gate bookings, assign rooms, the room board, automations')
    .version(`usher ${VERSION}`, '-v, --version', 'print the version')
    .option('--json', 'answer in JSON (for scripts) instead of tables')
    .showHelpAfterError('(usher help <command> shows its options and examples)')
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .addHelpText(
      'after',
      '\nConfiguration comes from the environment and USHER_CONFIG (README "Configuration").\n' +
        'Beside a running usher serve, commands use its store directly; elsewhere set USHER_ADMIN_URL and USHER_ADMIN_TOKEN.\n',
    )
    .exitOverride();
  // Subcommands made after this point inherit these manners (exit override, suggestions, help after an error).
  const ctx = commandContext(env);
  registerServerCommands(program, ctx);
  registerWorkCommands(program, ctx);
  registerGateCommands(program, ctx);
  registerRoomCommands(program, ctx);
  registerInsightsCommands(program, ctx);
  registerBookingCommands(program, ctx);
  registerDoctorCommands(program, ctx);
  return program;
}

const USAGE_FAULTS = new Set<ErrorCode>(['BAD_REQUEST', 'PAYLOAD_INVALID', 'CONFIG_INVALID', 'NO_STORE']);

/**
 * Exit codes: 0 done; 2 the command, its arguments or the configuration are wrong (nothing was
 * done); 1 it failed while working (a store, Cal.com, or a refusal such as an unknown member).
 */
export async function run(argv: string[], env: Env): Promise<number> {
  const program = usherProgram(env);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has said it (help, version, or the usage fault with a suggestion).
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help' ? 0 : 2;
    }
    process.stderr.write(`usher: ${isUsherError(error) ? error.message : describeError(error)}\n`);
    if (isUsherError(error) && Array.isArray(error.detail)) process.stderr.write(error.detail.map((f) => `  - ${String(f)}\n`).join(''));
    return isUsherError(error) && USAGE_FAULTS.has(error.code) ? 2 : 1;
  }
}
