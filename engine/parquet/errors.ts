/** A Parquet file the footer tools cannot take (not Parquet, encrypted, or not shaped as they need), naming it. */
export class ParquetRewriteError extends Error {}
