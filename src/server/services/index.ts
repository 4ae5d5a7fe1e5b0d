/**
 * @module
 * The built-in services, each opt-in (`createVeilgraph({ services: [signIn(), …] })`), and
 * `allServices()`, every one of them in an order that satisfies their `requires`.
 */
import type { ServiceModule } from '../service-module.js';
import { backups } from './backups/module.js';
import { debugView } from './debug-view/module.js';
import { directory } from './directory/module.js';
import { messaging } from './messaging/module.js';
import { sharing } from './sharing/module.js';
import { signIn } from './sign-in/module.js';

export { backups, debugView, directory, messaging, sharing, signIn };

/** Every built-in service: signIn(), directory(), sharing(), messaging(), backups(), debugView(). */
export function allServices(): ServiceModule[] {
  return [signIn(), directory(), sharing(), messaging(), backups(), debugView()];
}
