// PLACEHOLDER: the ingest handler is being written (issue 5). Infrastructure bundles this entry point.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

export async function handler(_event: SQSEvent): Promise<SQSBatchResponse> {
  throw new Error('ingest handler not implemented yet');
}
