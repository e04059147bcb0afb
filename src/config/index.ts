/** The config module: one validated, frozen Config, or a ConfigError naming the file, the key and the problem. */
export { formatDuration, parseDuration } from './duration.js';
export { configPath, defaultConfigPath, loadConfig, parseConfig, readSecretFile } from './load.js';
export { apiLimitDefaults, configSchema, modes, notificationEvents, prechecks, tokenScopes, verifyModes } from './schema.js';
export type { Config, Mode, NotificationEvent, Precheck, TargetOverrides, TokenScope, VerifyMode } from './schema.js';
