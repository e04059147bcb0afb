/** Every test helper, from one place. */
export * from './daemon.js';
export * from './fleet.js';
export * from './git.js';
export * from './processes.js';
export * from './sshd.js';
export * from './tmp.js';
export * from './wait.js';
export * from './running-daemon.js';
