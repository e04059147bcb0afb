// tsc compiles only .ts: copy the SQL migrations next to the compiled store module.
import { cpSync } from 'node:fs';
cpSync('src/store/migrations', 'dist/store/migrations', { recursive: true });
