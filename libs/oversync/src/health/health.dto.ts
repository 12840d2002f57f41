import { ApiProperty, ApiPropertyOptional } from '../openapi/optional-swagger.js';
import {
  SERVICE_LIFECYCLES,
  type BundleLimits,
  type CapabilitiesResponse,
  type CapabilityFeatures,
  type RegisteredTableSpec,
  type ServiceHealth,
  type ServiceLifecycle,
  type StatusResponse,
  type StatusSummaryResponse,
} from '@oversync/protocol';

// Documentation of the capabilities and status bodies (each `implements` its protocol type).

const int64 = { type: 'integer', format: 'int64' } as const;

export class RegisteredTableSpecDto implements RegisteredTableSpec {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'users' }) table: string;
  @ApiPropertyOptional({ type: [String], example: ['id'] }) sync_key_columns?: string[];
}

export class CapabilitiesResponseDto implements CapabilitiesResponse {
  @ApiProperty({ example: 'v1' }) protocol_version: string;
  @ApiProperty({ ...int64, example: 1 }) schema_version: number;
  @ApiPropertyOptional() app_name?: string;
  @ApiPropertyOptional({ type: [String], example: ['business.posts', 'business.users'] }) registered_tables?: string[];
  @ApiPropertyOptional({ type: [RegisteredTableSpecDto] }) registered_table_specs?: RegisteredTableSpecDto[];
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'boolean' },
    example: { bundle_pull: true, bundle_change_watch: true },
  })
  features: CapabilityFeatures;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { max_bundles_per_pull: 5000, max_rows_per_push_chunk: 1000 },
  })
  bundle_limits: BundleLimits;
}

export class StatusResponseDto implements StatusSummaryResponse, Partial<StatusResponse> {
  @ApiProperty({ enum: ['healthy', 'unhealthy'] }) status: ServiceHealth;
  @ApiProperty({ example: 'v1' }) version: string;
  @ApiProperty({ enum: SERVICE_LIFECYCLES }) lifecycle: ServiceLifecycle;
  @ApiProperty() accepting_operations: boolean;
  @ApiPropertyOptional({ description: 'the members below only when the host sets exposeStatusDetails' })
  app_name?: string;
  @ApiPropertyOptional({ ...int64 }) inflight_operations?: number;
  @ApiPropertyOptional({ type: [String] }) registered_tables?: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'boolean' } }) features?: CapabilityFeatures;
  @ApiPropertyOptional({ ...int64 }) user_state_retention_floor_ahead_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) latest_bundle_seq_max?: bigint;
  @ApiPropertyOptional({ ...int64 }) retained_bundle_floor_min?: bigint;
  @ApiPropertyOptional({ ...int64 }) retained_bundle_floor_max?: bigint;
  @ApiPropertyOptional({ ...int64 }) retained_bundle_window_min?: bigint;
  @ApiPropertyOptional({ ...int64 }) retained_bundle_window_max?: bigint;
  @ApiPropertyOptional({ ...int64 }) history_pruned_error_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) accepted_push_replay_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) rejected_registered_write_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) committed_bundle_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) committed_bundle_bytes?: bigint;
}
