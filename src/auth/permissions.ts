/**
 * The one table of what each HTTP route, gRPC method and WebSocket action
 * needs, and what each role may do. The edge, the gRPC server and the /ws hub
 * look their permission up here; a test walks every entry with every role, and
 * another checks that every route and RPC has an entry.
 */
import type { Role } from '../storage/index.js';

export const PERMISSIONS = [
  'public',
  'authenticated',
  'read',
  'tasks.write',
  'agents.write',
  'modules.write',
  'agent.connect',
  'admin',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What each role may do ('public' and 'authenticated' are granted by being anyone / anyone signed in). */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: ['read', 'tasks.write', 'agents.write', 'modules.write', 'agent.connect', 'admin'],
  operator: ['read', 'tasks.write', 'agents.write', 'modules.write'],
  viewer: ['read'],
  agent: ['agent.connect'],
};

export function allows(roles: readonly Role[], permission: Permission): boolean {
  if (permission === 'public' || permission === 'authenticated') return true;
  return roles.some((r) => ROLE_PERMISSIONS[r].includes(permission));
}

/** Whether these roles may approve or reject a waiting task ([workflows] approver_role, or admin). */
export function mayApprove(roles: readonly string[], approverRole: string): boolean {
  return roles.includes(approverRole) || roles.includes('admin');
}

/** What a principal may do, for a client to offer only that (GET /auth/me). */
export function grantsOf(
  roles: readonly Role[],
  approverRole: string,
): { permissions: Permission[]; may_approve: boolean } {
  return { permissions: PERMISSIONS.filter((p) => allows(roles, p)), may_approve: mayApprove(roles, approverRole) };
}

/** HTTP routes by `METHOD pattern` (patterns as the router has them). */
export const HTTP_PERMISSIONS: Readonly<Record<string, Permission>> = {
  'GET /health': 'public',
  'POST /auth/login': 'public',
  'POST /auth/refresh': 'public',
  'POST /auth/logout': 'authenticated',
  'GET /auth/me': 'authenticated',
  'GET /auth/status': 'public',
  'GET /api/auth/status': 'public',
  'POST /api/auth/login': 'public',
  'POST /api/auth/refresh': 'public',
  'POST /api/auth/logout': 'authenticated',
  'GET /api/auth/me': 'authenticated',
  'GET /api/auth/users': 'admin',
  'POST /api/auth/users': 'admin',
  'DELETE /api/auth/users/:username': 'admin',
  'GET /api/auth/keys': 'admin',
  'POST /api/auth/keys': 'admin',
  'DELETE /api/auth/keys/:id': 'admin',
  'GET /api/auth/audit': 'admin',
  'GET /metrics': 'read',
  'GET /metrics/prometheus': 'read',
  'GET /metrics/history': 'read',
  'GET /api/agents': 'read',
  'POST /api/agents': 'agents.write',
  'GET /api/agents/:id': 'read',
  'PATCH /api/agents/:id': 'agents.write',
  'DELETE /api/agents/:id': 'agents.write',
  'POST /api/agents/:id/pause': 'agents.write',
  'POST /api/agents/:id/resume': 'agents.write',
  'POST /api/agents/:id/drain': 'agents.write',
  'POST /api/agents/:id/cancel': 'agents.write',
  'POST /api/agents/:id/restart': 'agents.write',
  'GET /api/tasks': 'read',
  'POST /api/tasks': 'tasks.write',
  'POST /api/tasks/bulk': 'tasks.write',
  'GET /api/tasks/pending': 'read',
  'POST /api/tasks/redrive': 'tasks.write',
  'GET /api/tasks/:id': 'read',
  'GET /api/tasks/:id/explain': 'read',
  'GET /api/tasks/:id/fit': 'read',
  'GET /api/tasks/errors': 'read',
  'POST /api/tasks/:id/usage': 'agent.connect',
  'GET /api/flow': 'read',
  'GET /api/flow/keys/:key': 'read',
  'PUT /api/flow/:kind/:key': 'modules.write',
  'DELETE /api/flow/:kind/:key': 'modules.write',
  'POST /api/tasks/:id/cancel': 'tasks.write',
  'POST /api/tasks/:id/signal': 'tasks.write',
  // The role an approval needs is [workflows] approver_role, checked by the API (src/api/workflows.ts).
  'POST /api/tasks/:id/approve': 'authenticated',
  'POST /api/tasks/:id/reject': 'authenticated',
  'GET /api/tasks/:id/tree': 'read',
  'GET /api/tasks/:id/progress': 'read',
  'POST /api/schedules': 'tasks.write',
  'GET /api/schedules': 'read',
  'GET /api/schedules/:id': 'read',
  'POST /api/schedules/:id/pause': 'tasks.write',
  'POST /api/schedules/:id/resume': 'tasks.write',
  'POST /api/schedules/:id/trigger': 'tasks.write',
  'DELETE /api/schedules/:id': 'tasks.write',
  'POST /api/tasks/:id/retry': 'tasks.write',
  'POST /api/tasks/assign': 'tasks.write',
  'GET /api/hive/status': 'read',
  'GET /api/modules': 'read',
  'GET /api/modules/:name/status': 'read',
  'POST /api/modules/:name/restart': 'modules.write',
  'POST /api/modules/:name/reset': 'modules.write',
  'POST /api/neural/analyze': 'read',
  'POST /api/neural/analyze/batch': 'read',
  'GET /api/modules/neural/status': 'read',
  'POST /api/modules/neural/restart': 'modules.write',
  'POST /api/modules/neural/clear-cache': 'modules.write',
  'POST /api/modules/neural/retrain': 'modules.write',
};

/** gRPC methods by `Service/Method`. */
export const GRPC_PERMISSIONS: Readonly<Record<string, Permission>> = {
  'HiveService/SubmitTask': 'tasks.write',
  'HiveService/SubmitTasks': 'tasks.write',
  'HiveService/GetTask': 'read',
  'HiveService/ExplainTask': 'read',
  'HiveService/ListTasks': 'read',
  'HiveService/CancelTask': 'tasks.write',
  'HiveService/SignalTask': 'tasks.write',
  'HiveService/WatchTasks': 'read',
  'HiveService/ListAgents': 'read',
  'HiveService/GetHiveStatus': 'read',
  'HiveService/AnalyzeText': 'read',
  'AgentService/Connect': 'agent.connect',
};

/** WebSocket actions on /ws. */
export const WS_PERMISSIONS: Readonly<Record<string, Permission>> = {
  connect: 'read',
  subscribe: 'read',
  unsubscribe: 'read',
  ping: 'read',
};
