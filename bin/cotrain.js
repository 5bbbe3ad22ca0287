#!/usr/bin/env node
// Launcher: registers tsx so the TypeScript sources run as they are, then starts the CLI.
// Works on Node 20 too (the CLI loads a Promise.withResolvers polyfill before anything else).
import { register } from "tsx/esm/api";

register();
await import("../node/cli/main.ts");
