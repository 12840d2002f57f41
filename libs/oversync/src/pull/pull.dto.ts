import { ApiProperty, ApiPropertyOptional } from '../openapi/optional-swagger.js';
import {
  ROW_OPS,
  type Bundle,
  type BundleRow,
  type CommittedBundleRowsResponse,
  type JsonObject,
  type PullResponse,
  type RowOp,
  type WireKey,
} from '@oversync/protocol';
import { CommittedBundleDto } from '../push/push.dto.js';

// Documentation of the pull and committed-row bodies (each `implements` its protocol type).

const int64 = { type: 'integer', format: 'int64' } as const;

export class BundleRowDto implements BundleRow {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'posts' }) table: string;
  @ApiProperty({ example: { id: '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d' } }) key: WireKey;
  @ApiProperty({ enum: ROW_OPS }) op: RowOp;
  @ApiProperty({ ...int64, description: "the bundle's bundle_seq" }) row_version: bigint;
  @ApiPropertyOptional({
    example: { id: '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d', title: 'Hello' },
    description: 'absent for DELETE',
  })
  payload?: JsonObject;
}

export class CommittedBundleRowsResponseDto extends CommittedBundleDto implements CommittedBundleRowsResponse {
  @ApiProperty({ type: [BundleRowDto] }) rows: BundleRowDto[];
  @ApiProperty({ ...int64, description: 'after_row_ordinal + rows.length' }) next_row_ordinal: bigint;
  @ApiProperty() has_more: boolean;
}

export class PulledBundleDto implements Bundle {
  @ApiProperty({ ...int64 }) bundle_seq: bigint;
  @ApiProperty() source_id: string;
  @ApiProperty({ ...int64 }) source_bundle_id: bigint;
  @ApiPropertyOptional({ ...int64 }) row_count?: bigint;
  @ApiPropertyOptional() bundle_hash?: string;
  @ApiProperty({ type: [BundleRowDto] }) rows: BundleRowDto[];
}

export class PullResponseDto implements PullResponse {
  @ApiProperty({
    ...int64,
    description: 'the sequence this pull is consistent up to; pass it as target_bundle_seq while has_more',
  })
  stable_bundle_seq: bigint;
  @ApiProperty({ type: [PulledBundleDto] }) bundles: PulledBundleDto[];
  @ApiProperty() has_more: boolean;
}
