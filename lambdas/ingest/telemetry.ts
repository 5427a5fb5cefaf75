/**
 * Logs, metrics and traces (Powertools for AWS Lambda). Service name, namespace and log level come from
 * POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE and LOG_LEVEL.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Manifest } from '../../engine/contract/index.ts';
import { INGEST_METRIC } from '../../wiring/names.ts';

export const logger = new Logger();
export const tracer = new Tracer();
/**
 * Every metric carries the dimensions `service` (Powertools' default, from POWERTOOLS_SERVICE_NAME) and
 * `dataset`: the alarms in lib/monitoring select exactly that pair, so neither may be dropped or added to.
 */
export const metrics = new Metrics();

/** Metric names the alarms and dashboards use (wiring/names.ts). */
export const MetricName = INGEST_METRIC;

/** One EMF document per ingested object, dimensions `service` and `dataset`. */
export function publishIngestMetrics(
  manifest: Manifest,
  durationMs: number,
  eventTime: Date | undefined,
  now: number = Date.now(),
): void {
  metrics.addDimension('dataset', manifest.dataset);
  metrics.addMetric(MetricName.RowsIn, MetricUnit.Count, manifest.rows_in);
  metrics.addMetric(MetricName.RowsValid, MetricUnit.Count, manifest.rows_valid);
  metrics.addMetric(MetricName.RowsQuarantined, MetricUnit.Count, manifest.rows_quarantined);
  metrics.addMetric(MetricName.BytesIn, MetricUnit.Bytes, manifest.bytes_in);
  metrics.addMetric(MetricName.DurationMs, MetricUnit.Milliseconds, Math.round(durationMs));
  metrics.addMetric(MetricName.FilesRejected, MetricUnit.Count, manifest.status === 'rejected' ? 1 : 0);
  if (eventTime && manifest.status === 'succeeded') {
    metrics.addMetric(
      MetricName.SecondsToQueryable,
      MetricUnit.Seconds,
      Math.max(0, (now - eventTime.getTime()) / 1000),
    );
  }
  metrics.publishStoredMetrics();
}

export function publishFailureMetric(dataset: string): void {
  metrics.addDimension('dataset', dataset);
  metrics.addMetric(MetricName.IngestFailures, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
}
