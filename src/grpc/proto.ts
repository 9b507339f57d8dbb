/** Loads proto/hive/v1/hive.proto once (kept as field names, longs as numbers, defaults filled). */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packageRoot } from '../config/index.js';

export const PROTO_FILE = path.join(packageRoot(), 'proto', 'hive', 'v1', 'hive.proto');

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export interface HiveProto {
  packageDefinition: protoLoader.PackageDefinition;
  hiveService: grpc.ServiceDefinition;
  agentService: grpc.ServiceDefinition;
  /** Client constructors (tests, SDK). */
  HiveServiceClient: grpc.ServiceClientConstructor;
  AgentServiceClient: grpc.ServiceClientConstructor;
}

let loaded: HiveProto | undefined;

export function hiveProto(): HiveProto {
  if (loaded !== undefined) return loaded;
  const packageDefinition = protoLoader.loadSync(PROTO_FILE, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    hive: { v1: Record<string, grpc.ServiceClientConstructor> };
  };
  const HiveServiceClient = pkg.hive.v1['HiveService'];
  const AgentServiceClient = pkg.hive.v1['AgentService'];
  if (HiveServiceClient === undefined || AgentServiceClient === undefined)
    throw new Error(`${PROTO_FILE} lacks HiveService or AgentService`);
  loaded = {
    packageDefinition,
    hiveService: HiveServiceClient.service,
    agentService: AgentServiceClient.service,
    HiveServiceClient,
    AgentServiceClient,
  };
  return loaded;
}
