#!/usr/bin/env node
// Runs the TypeScript sources directly, so there is no build step to forget: compiled once and kept
// while they are unchanged (compiled-sources.mjs), or through tsx.
import { importSources } from './compiled-sources.mjs';

await importSources('src/cli/main.ts');
