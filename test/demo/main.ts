// Entry of `npm run demo` (node --import tsx test/demo/main.ts [--no-wait]).
import { run } from './demo.js';

process.exitCode = await run(process.argv.slice(2));
