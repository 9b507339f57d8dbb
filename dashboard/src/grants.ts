/** What the signed-in principal may do (GET /auth/me): views offer only that. */
import type { Me } from './api';

let current: Me | undefined;

export function setMe(me: Me | undefined): void {
  current = me;
}

export function getMe(): Me | undefined {
  return current;
}

/** tasks.write, agents.write, modules.write, admin, … as the hub's permission table names them. */
export function can(permission: string): boolean {
  return current?.permissions.includes(permission) ?? false;
}

export function canApprove(): boolean {
  return current?.may_approve ?? false;
}
