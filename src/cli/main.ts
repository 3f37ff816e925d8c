import { run } from './usher-program.ts';

const code = await run(process.argv.slice(2), process.env);
// Long-running commands (serve, demo, sandbox) keep the process alive; the others end here.
if (code !== 0) process.exit(code);
