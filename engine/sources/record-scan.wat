;; The byte loop of `records.ts` `scanRecordStream`: where each record of a text ends, counted the way DuckDB's CSV
;; reader counts lines (a line feed inside a quoted field does not end a record), with what the scan reports of
;; each: line-end style, blank lines, length, oversize records, quoting cleanliness, and the chunk cuts.
;;
;; A quote opens a field only at its start (after a delimiter or a line feed) or right after a closing quote (an
;; escaped quote); anywhere else it is a plain character and the quoting is not clean. After a closing quote RFC 4180
;; allows a quote, a delimiter or a line end. A carriage return not followed by a line feed is counted as bare.
;;
;; Sixteen bytes at a time, with bit masks (one bit per byte): in a group with quotes, where every quote toggles
;; "inside a field" (none stands where it cannot open one), that state is the running XOR of the quote bits; a group
;; with a quote that does not toggle goes byte by byte. Offsets and counts are f64 (exact up to 2^53; texts pass 4 GiB). The block is at 0 of
;; the memory; `scan` stops early, returning where to go on, when a chunk is cut (`stop` bit 1) or the event area is
;; nearly full (bit 2). Events from EVENTS, six f64 each: [kind, record, blank lines, start, end, bytes] — kind 1 a
;; blank line (record, blank lines up to and including it), kind 2 a record over `limit`, kind 3 (with `listing` set) a
;; record with content whose count of fields (delimiters outside quotes, plus one) differs from the last header line's
;; — what DuckDB's reader rejects for its field count when the quoting is clean, where every quote toggles. Regenerate
;; `record-scan.wasm.ts` with `npm run build:wasm` (a unit test checks it was).
(module
  (memory (export "memory") 32) ;; 2 MiB: the block at 0 (1 MiB), the events from EVENTS
  (global $EVENTS i32 (i32.const 1048576))
  (global $EVENT_CAPACITY i32 (i32.const 16384))

  ;; Settings, set by the caller before the first scan.
  (global $delimiter (export "delimiter") (mut i32) (i32.const 44))
  (global $quotedMode (export "quotedMode") (mut i32) (i32.const 1))
  (global $headerLines (export "headerLines") (mut f64) (f64.const 1))
  (global $limit (export "limit") (mut f64) (f64.const inf))
  (global $sampling (export "sampling") (mut i32) (i32.const 0))
  (global $sampleRecords (export "sampleRecords") (mut f64) (f64.const 0))
  (global $cutting (export "cutting") (mut i32) (i32.const 0))
  (global $recordsPerChunk (export "recordsPerChunk") (mut f64) (f64.const inf))
  ;; The size of the chunk being planned (set again by the caller after each cut).
  (global $chunkBytes (export "chunkBytes") (mut f64) (f64.const inf))
  ;; List records whose field count differs from the header's (kind 3 events).
  (global $listing (export "listing") (mut i32) (i32.const 0))
  ;; Absolute offset of the block's first byte.
  (global $base (export "base") (mut f64) (f64.const 0))

  ;; Byte state.
  (global $quoted (export "quoted") (mut i32) (i32.const 0))
  (global $clean (export "clean") (mut i32) (i32.const 1))
  (global $content (export "content") (mut i32) (i32.const 0))
  (global $prevByte (export "prevByte") (mut i32) (i32.const 10))
  (global $pendingCr (export "pendingCr") (mut i32) (i32.const 0))
  (global $afterClose (mut i32) (i32.const 0))
  (global $prevClosed (mut i32) (i32.const 0))
  ;; Fields of the record being read (delimiters outside quotes, plus one), and of the last header line.
  (global $fields (mut i32) (i32.const 1))
  (global $headerFields (mut i32) (i32.const -1))

  ;; Counts and offsets.
  (global $lines (export "lines") (mut f64) (f64.const 0))
  (global $blankLines (export "blankLines") (mut f64) (f64.const 0))
  (global $maxRecordBytes (export "maxRecordBytes") (mut f64) (f64.const 0))
  (global $crlf (export "crlf") (mut f64) (f64.const 0))
  (global $lf (export "lf") (mut f64) (f64.const 0))
  (global $bareCr (export "bareCr") (mut f64) (f64.const 0))
  (global $recordStart (export "recordStart") (mut f64) (f64.const 0))
  (global $headerBytes (export "headerBytes") (mut f64) (f64.const -1))
  (global $sampleEnd (export "sampleEnd") (mut f64) (f64.const -1))
  (global $oversize (export "oversize") (mut f64) (f64.const 0))

  ;; The chunk being planned (the caller starts the next one after a cut).
  (global $chunkStart (export "chunkStart") (mut f64) (f64.const 0))
  (global $chunkRecordOffset (export "chunkRecordOffset") (mut f64) (f64.const 0))
  (global $chunkRecords (export "chunkRecords") (mut f64) (f64.const 0))
  (global $chunkMaxRecordBytes (export "chunkMaxRecordBytes") (mut f64) (f64.const 0))

  ;; Per scan call.
  (global $events (export "events") (mut i32) (i32.const 0))
  (global $stop (export "stop") (mut i32) (i32.const 0))

  (func $emit (param $kind f64) (param $record f64) (param $blanks f64) (param $start f64) (param $end f64) (param $bytes f64)
    (local $event i32)
    (local.set $event (i32.add (global.get $EVENTS) (i32.mul (global.get $events) (i32.const 48))))
    (f64.store (local.get $event) (local.get $kind))
    (f64.store offset=8 (local.get $event) (local.get $record))
    (f64.store offset=16 (local.get $event) (local.get $blanks))
    (f64.store offset=24 (local.get $event) (local.get $start))
    (f64.store offset=32 (local.get $event) (local.get $end))
    (f64.store offset=40 (local.get $event) (local.get $bytes))
    (global.set $events (i32.add (global.get $events) (i32.const 1))))

  ;; A record ends at block offset $at (its line feed; the end of the text for a last record without one), followed
  ;; by $lineEndBytes (1 or 0) bytes of line end; $crBefore: the byte before the line feed is a carriage return.
  ;; Returns `stop`.
  (func $endLine (param $at i32) (param $lineEndBytes f64) (param $crBefore i32) (result i32)
    (local $blank i32) (local $end f64) (local $bytes f64) (local $recordEnd f64) (local $pastHeader i32)
    (global.set $lines (f64.add (global.get $lines) (f64.const 1)))
    (if (f64.gt (local.get $lineEndBytes) (f64.const 0))
      (then
        (if (local.get $crBefore)
          (then (global.set $crlf (f64.add (global.get $crlf) (f64.const 1))))
          (else (global.set $lf (f64.add (global.get $lf) (f64.const 1)))))))
    (local.set $pastHeader (f64.gt (global.get $lines) (global.get $headerLines)))
    (local.set $blank (i32.and (i32.eqz (global.get $content)) (local.get $pastHeader)))
    (if (local.get $blank)
      (then
        (global.set $blankLines (f64.add (global.get $blankLines) (f64.const 1)))
        (call $emit (f64.const 1) (f64.sub (global.get $lines) (global.get $headerLines)) (global.get $blankLines)
          (f64.const 0) (f64.const 0) (f64.const 0))))
    (local.set $end (f64.add (global.get $base) (f64.convert_i32_u (local.get $at))))
    (local.set $bytes (f64.sub (local.get $end) (global.get $recordStart)))
    (local.set $recordEnd (f64.add (local.get $end) (local.get $lineEndBytes)))
    (global.set $maxRecordBytes (f64.max (global.get $maxRecordBytes) (local.get $bytes)))
    (if (i32.and (f64.gt (local.get $bytes) (global.get $limit))
          (i32.and (local.get $pastHeader) (i32.eqz (local.get $blank))))
      (then
        (call $emit (f64.const 2) (f64.sub (global.get $lines) (global.get $headerLines)) (global.get $blankLines)
          (global.get $recordStart) (local.get $recordEnd) (local.get $bytes))
        (global.set $oversize (f64.add (global.get $oversize) (f64.const 1)))))
    (if (global.get $listing)
      (then
        (if (f64.eq (global.get $lines) (global.get $headerLines))
          (then (global.set $headerFields (global.get $fields)))
          (else
            (if (i32.and (i32.and (local.get $pastHeader) (global.get $content))
                  (i32.ne (global.get $fields) (global.get $headerFields)))
              (then
                (call $emit (f64.const 3) (f64.sub (global.get $lines) (global.get $headerLines))
                  (global.get $blankLines) (global.get $recordStart) (local.get $recordEnd) (local.get $bytes))))))))
    (global.set $fields (i32.const 1))
    (global.set $recordStart (local.get $recordEnd))
    (if (i32.and (global.get $sampling) (f64.lt (global.get $sampleEnd) (f64.const 0)))
      (then
        (if (f64.ge
              (f64.sub (f64.sub (global.get $lines) (global.get $headerLines)) (global.get $oversize))
              (global.get $sampleRecords))
          (then (global.set $sampleEnd (local.get $recordEnd))))))
    (if (f64.eq (global.get $lines) (global.get $headerLines))
      (then
        (global.set $headerBytes (local.get $recordEnd))
        (global.set $chunkStart (local.get $recordEnd))
        (global.set $chunkRecordOffset (f64.const 0))
        (global.set $chunkRecords (f64.const 0)))
      (else
        (if (i32.and (global.get $cutting) (local.get $pastHeader))
          (then
            (global.set $chunkRecords (f64.add (global.get $chunkRecords) (f64.const 1)))
            (global.set $chunkMaxRecordBytes (f64.max (global.get $chunkMaxRecordBytes) (local.get $bytes)))
            (if (i32.or (f64.ge (global.get $chunkRecords) (global.get $recordsPerChunk))
                  (f64.ge (f64.sub (local.get $recordEnd) (global.get $chunkStart)) (global.get $chunkBytes)))
              (then (global.set $stop (i32.or (global.get $stop) (i32.const 1)))))))))
    (global.set $content (i32.const 0))
    (if (i32.ge_u (global.get $events) (i32.sub (global.get $EVENT_CAPACITY) (i32.const 2)))
      (then (global.set $stop (i32.or (global.get $stop) (i32.const 2)))))
    (global.get $stop))

  ;; One byte at block offset $at, the whole state machine. Returns `stop`.
  (func $byte (param $at i32) (result i32)
    (local $b i32) (local $wasClosed i32) (local $opens i32) (local $stop i32)
    (local.set $b (i32.load8_u (local.get $at)))
    (local.set $wasClosed (global.get $prevClosed))
    (global.set $prevClosed (i32.const 0))
    (if (global.get $pendingCr)
      (then
        (global.set $pendingCr (i32.const 0))
        (if (i32.ne (local.get $b) (i32.const 10))
          (then (global.set $bareCr (f64.add (global.get $bareCr) (f64.const 1)))))))
    (if (global.get $afterClose)
      (then
        (global.set $afterClose (i32.const 0))
        (if (i32.eqz
              (i32.or (i32.or (i32.eq (local.get $b) (i32.const 34)) (i32.eq (local.get $b) (global.get $delimiter)))
                (i32.or (i32.eq (local.get $b) (i32.const 10)) (i32.eq (local.get $b) (i32.const 13)))))
          (then (global.set $clean (i32.const 0))))))
    (if (i32.eq (local.get $b) (i32.const 13)) (then (global.set $pendingCr (i32.const 1))))
    (block $done
      (if (global.get $quoted)
        (then
          (if (i32.eq (local.get $b) (i32.const 34))
            (then
              (global.set $quoted (i32.const 0))
              (global.set $prevClosed (i32.const 1))
              (global.set $afterClose (i32.const 1))))
          (br $done)))
      (if (i32.and (i32.eq (local.get $b) (i32.const 34)) (global.get $quotedMode))
        (then
          (local.set $opens
            (i32.or (i32.or (i32.eq (global.get $prevByte) (global.get $delimiter))
                      (i32.eq (global.get $prevByte) (i32.const 10)))
              (local.get $wasClosed)))
          (if (i32.eqz (local.get $opens)) (then (global.set $clean (i32.const 0))))
          (global.set $content (i32.const 1))
          (global.set $quoted (local.get $opens))
          (br $done)))
      (if (i32.eq (local.get $b) (global.get $delimiter))
        (then (global.set $fields (i32.add (global.get $fields) (i32.const 1)))))
      (if (i32.eq (local.get $b) (i32.const 10))
        (then
          (local.set $stop
            (call $endLine (local.get $at) (f64.const 1) (i32.eq (global.get $prevByte) (i32.const 13))))
          (br $done)))
      (if (i32.ne (local.get $b) (i32.const 13)) (then (global.set $content (i32.const 1)))))
    (global.set $prevByte (local.get $b))
    (local.get $stop))

  ;; A group of 16 bytes at $at with a quote ($quotes, $lfs, $crs, $delimiters: one bit per byte), when every quote in it
  ;; toggles "inside a field": the state after each byte is then the running XOR of the quote bits. Returns -1, having
  ;; changed nothing, when a quote stands where it cannot open a field (the byte loop takes the group: such a quote does
  ;; not toggle); else 0 once the group is done, or k + 1 when the record ending at its line feed k asked to stop.
  (func $quoteGroup (param $at i32) (param $quotes i32) (param $lfs i32) (param $crs i32) (param $delimiters i32)
    (result i32)
    (local $after i32) (local $before i32) (local $opening i32) (local $closing i32) (local $lineEnds i32)
    (local $badClose i32) (local $bare i32) (local $rest i32) (local $k i32) (local $segment i32) (local $crBefore i32)
    (local $b i32) (local $outside i32)
    ;; Inside a field after each byte, and before each byte.
    (local.set $after (local.get $quotes))
    (local.set $after (i32.xor (local.get $after) (i32.shl (local.get $after) (i32.const 1))))
    (local.set $after (i32.xor (local.get $after) (i32.shl (local.get $after) (i32.const 2))))
    (local.set $after (i32.xor (local.get $after) (i32.shl (local.get $after) (i32.const 4))))
    (local.set $after (i32.xor (local.get $after) (i32.shl (local.get $after) (i32.const 8))))
    (if (global.get $quoted) (then (local.set $after (i32.xor (local.get $after) (i32.const -1)))))
    (local.set $after (i32.and (local.get $after) (i32.const 0xffff)))
    (local.set $before
      (i32.and (i32.or (i32.shl (local.get $after) (i32.const 1)) (global.get $quoted)) (i32.const 0xffff)))
    (local.set $opening (i32.and (local.get $quotes) (i32.xor (local.get $before) (i32.const -1))))
    (local.set $closing (i32.and (local.get $quotes) (local.get $before)))
    ;; An opening quote follows a delimiter, a line feed or a closing quote.
    (if (i32.and (local.get $opening)
          (i32.xor
            (i32.or
              (i32.or
                (i32.or (i32.shl (local.get $delimiters) (i32.const 1))
                  (i32.eq (global.get $prevByte) (global.get $delimiter)))
                (i32.or (i32.shl (local.get $lfs) (i32.const 1)) (i32.eq (global.get $prevByte) (i32.const 10))))
              (i32.or (i32.shl (local.get $closing) (i32.const 1)) (global.get $prevClosed)))
            (i32.const -1)))
      (then (return (i32.const -1))))
    (global.set $prevClosed (i32.const 0))
    (if (global.get $afterClose)
      (then
        (global.set $afterClose (i32.const 0))
        (local.set $b (i32.load8_u (local.get $at)))
        (if (i32.eqz
              (i32.or (i32.or (i32.eq (local.get $b) (i32.const 34)) (i32.eq (local.get $b) (global.get $delimiter)))
                (i32.or (i32.eq (local.get $b) (i32.const 10)) (i32.eq (local.get $b) (i32.const 13)))))
          (then (global.set $clean (i32.const 0))))))
    (if (global.get $pendingCr)
      (then
        (global.set $pendingCr (i32.const 0))
        (if (i32.eqz (i32.and (local.get $lfs) (i32.const 1)))
          (then (global.set $bareCr (f64.add (global.get $bareCr) (f64.const 1)))))))
    ;; Line feeds outside fields end records; a closing quote must be followed by a quote, delimiter or line end
    ;; (the last byte's follower is checked with the next group); a carriage return not followed by a line feed is bare.
    (local.set $lineEnds (i32.and (local.get $lfs) (i32.xor (local.get $before) (i32.const -1))))
    (local.set $badClose
      (i32.and (i32.and (local.get $closing) (i32.const 0x7fff))
        (i32.xor
          (i32.shr_u (i32.or (i32.or (local.get $quotes) (local.get $delimiters)) (i32.or (local.get $lfs) (local.get $crs)))
            (i32.const 1))
          (i32.const -1))))
    (local.set $bare
      (i32.and (i32.and (local.get $crs) (i32.const 0x7fff))
        (i32.xor (i32.shr_u (local.get $lfs) (i32.const 1)) (i32.const -1))))
    ;; Delimiters outside fields (a delimiter's state before it is its state after it).
    (local.set $outside (i32.and (local.get $delimiters) (i32.xor (local.get $before) (i32.const -1))))
    (local.set $rest (i32.const 0xffff))
    (block $done
      (loop $eachLineEnd
        (br_if $done (i32.eqz (local.get $lineEnds)))
        (local.set $k (i32.ctz (local.get $lineEnds)))
        (local.set $segment
          (i32.and (local.get $rest) (i32.sub (i32.shl (i32.const 1) (local.get $k)) (i32.const 1))))
        (global.set $fields
          (i32.add (global.get $fields) (i32.popcnt (i32.and (local.get $segment) (local.get $outside)))))
        (if (i32.and (local.get $segment) (i32.xor (local.get $crs) (i32.const -1)))
          (then (global.set $content (i32.const 1))))
        (if (i32.and (local.get $segment) (local.get $badClose)) (then (global.set $clean (i32.const 0))))
        (if (i32.and (local.get $segment) (local.get $bare))
          (then
            (global.set $bareCr
              (f64.add (global.get $bareCr)
                (f64.convert_i32_u (i32.popcnt (i32.and (local.get $segment) (local.get $bare))))))))
        (local.set $crBefore
          (if (result i32) (local.get $k)
            (then (i32.and (i32.shr_u (local.get $crs) (i32.sub (local.get $k) (i32.const 1))) (i32.const 1)))
            (else (i32.eq (global.get $prevByte) (i32.const 13)))))
        (global.set $quoted (i32.const 0))
        (global.set $prevByte (i32.const 10))
        (if (call $endLine (i32.add (local.get $at) (local.get $k)) (f64.const 1) (local.get $crBefore))
          (then (return (i32.add (local.get $k) (i32.const 1)))))
        (local.set $rest
          (i32.and (local.get $rest)
            (i32.xor (i32.sub (i32.shl (i32.const 2) (local.get $k)) (i32.const 1)) (i32.const -1))))
        (local.set $lineEnds (i32.and (local.get $lineEnds) (i32.sub (local.get $lineEnds) (i32.const 1))))
        (br $eachLineEnd)))
    (global.set $fields (i32.add (global.get $fields) (i32.popcnt (i32.and (local.get $rest) (local.get $outside)))))
    (if (i32.and (local.get $rest) (i32.xor (local.get $crs) (i32.const -1)))
      (then (global.set $content (i32.const 1))))
    (if (i32.and (local.get $rest) (local.get $badClose)) (then (global.set $clean (i32.const 0))))
    (if (i32.and (local.get $rest) (local.get $bare))
      (then
        (global.set $bareCr
          (f64.add (global.get $bareCr)
            (f64.convert_i32_u (i32.popcnt (i32.and (local.get $rest) (local.get $bare))))))))
    (if (i32.and (local.get $crs) (i32.const 0x8000)) (then (global.set $pendingCr (i32.const 1))))
    (global.set $quoted (i32.shr_u (local.get $after) (i32.const 15)))
    (global.set $prevClosed (i32.and (i32.shr_u (local.get $closing) (i32.const 15)) (i32.const 1)))
    (global.set $afterClose (global.get $prevClosed))
    (global.set $prevByte (i32.load8_u offset=15 (local.get $at)))
    (i32.const 0))

  ;; Scans the block from offset $from to $length (at most 1 MiB), events and `stop` cleared first; returns where
  ;; it stopped: $length, or the byte after the line feed where a chunk was cut or the events filled up.
  (func (export "scan") (param $from i32) (param $length i32) (result i32)
    (local $at i32) (local $v v128) (local $quotes i32) (local $lfs i32) (local $crs i32) (local $rest i32)
    (local $k i32) (local $before i32) (local $crBefore i32) (local $b i32) (local $groupEnd i32)
    (local $vQuote v128) (local $vLf v128) (local $vCr v128) (local $quotedMode i32)
    (local $vDelimiter v128) (local $byteDelimiter i32) (local $delimiters i32) (local $listing i32)
    (local.set $quotedMode (global.get $quotedMode))
    ;; A delimiter that is no single byte (a character above 255) equals no byte, as in `$byte`.
    (local.set $byteDelimiter (i32.le_u (global.get $delimiter) (i32.const 255)))
    (local.set $listing (i32.and (global.get $listing) (local.get $byteDelimiter)))
    (local.set $vDelimiter (i8x16.splat (global.get $delimiter)))
    (global.set $events (i32.const 0))
    (global.set $stop (i32.const 0))
    (local.set $vQuote (i8x16.splat (i32.const 34)))
    (local.set $vLf (i8x16.splat (i32.const 10)))
    (local.set $vCr (i8x16.splat (i32.const 13)))
    (local.set $at (local.get $from))
    (block $groupsDone
      (loop $groups
        (br_if $groupsDone (i32.gt_u (i32.add (local.get $at) (i32.const 16)) (local.get $length)))
        (local.set $v (v128.load (local.get $at)))
        (local.set $quotes
          (if (result i32) (local.get $quotedMode)
            (then (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vQuote))))
            (else (i32.const 0))))
        (if (local.get $quotes)
          (then
            ;; A quote in the group: with bit masks while every quote toggles (none stands where it cannot open a
            ;; field), else byte by byte.
            (local.set $k
              (call $quoteGroup (local.get $at) (local.get $quotes)
                (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vLf)))
                (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vCr)))
                (if (result i32) (local.get $byteDelimiter)
                  (then (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vDelimiter))))
                  (else (i32.const 0)))))
            (if (i32.gt_s (local.get $k) (i32.const 0))
              (then (return (i32.add (local.get $at) (local.get $k)))))
            (if (i32.eqz (local.get $k))
              (then
                (local.set $at (i32.add (local.get $at) (i32.const 16)))
                (br $groups)))
            (local.set $groupEnd (i32.add (local.get $at) (i32.const 16)))
            (block $bytesDone
              (loop $bytes
                (br_if $bytesDone (i32.ge_u (local.get $at) (local.get $groupEnd)))
                (if (call $byte (local.get $at))
                  (then (return (i32.add (local.get $at) (i32.const 1)))))
                (local.set $at (i32.add (local.get $at) (i32.const 1)))
                (br $bytes)))
            (br $groups)))
        (local.set $lfs (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vLf))))
        (local.set $crs (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vCr))))
        (if (global.get $pendingCr)
          (then
            (global.set $pendingCr (i32.const 0))
            (if (i32.eqz (i32.and (local.get $lfs) (i32.const 1)))
              (then (global.set $bareCr (f64.add (global.get $bareCr) (f64.const 1)))))))
        (if (global.get $quoted)
          (then
            ;; Inside a quoted field a group without a quote only has carriage returns to count.
            (global.set $bareCr
              (f64.add (global.get $bareCr)
                (f64.convert_i32_u
                  (i32.popcnt
                    (i32.and (i32.and (local.get $crs) (i32.const 0x7fff))
                      (i32.xor (i32.shr_u (local.get $lfs) (i32.const 1)) (i32.const -1)))))))
            (if (i32.and (local.get $crs) (i32.const 0x8000)) (then (global.set $pendingCr (i32.const 1))))
            (global.set $prevByte (i32.load8_u offset=15 (local.get $at)))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (br $groups)))
        ;; Outside quotes, no quote in the group: only the byte after a closing quote is checked. (`$quoteGroup` gives
        ;; the same for such a group, but taking every group through it made the bench's unquoted text scan in 0.20 s
        ;; instead of 0.10–0.12 s: this is the common case, kept apart.)
        (if (global.get $afterClose)
          (then
            (global.set $prevClosed (i32.const 0))
            (global.set $afterClose (i32.const 0))
            (local.set $b (i32.load8_u (local.get $at)))
            (if (i32.eqz
                  (i32.or (i32.eq (local.get $b) (global.get $delimiter))
                    (i32.or (i32.eq (local.get $b) (i32.const 10)) (i32.eq (local.get $b) (i32.const 13)))))
              (then (global.set $clean (i32.const 0))))))
        (local.set $delimiters
          (if (result i32) (local.get $listing)
            (then (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vDelimiter))))
            (else (i32.const 0))))
        (local.set $rest (i32.const 0xffff)) ;; bytes of the group not yet looked at
        (block $lfsDone
          (loop $eachLf
            (br_if $lfsDone (i32.eqz (local.get $lfs)))
            (local.set $k (i32.ctz (local.get $lfs)))
            (local.set $before
              (i32.and (local.get $rest) (i32.sub (i32.shl (i32.const 1) (local.get $k)) (i32.const 1))))
            (if (i32.and (local.get $before) (i32.xor (local.get $crs) (i32.const -1)))
              (then (global.set $content (i32.const 1))))
            (local.set $crBefore
              (if (result i32) (local.get $k)
                (then (i32.and (i32.shr_u (local.get $crs) (i32.sub (local.get $k) (i32.const 1))) (i32.const 1)))
                (else (i32.eq (global.get $prevByte) (i32.const 13)))))
            ;; A carriage return before the line feed's own is followed by a byte that is not a line feed.
            (if (i32.and (local.get $crs) (local.get $before))
              (then
                (global.set $bareCr
                  (f64.add (global.get $bareCr)
                    (f64.convert_i32_u
                      (i32.popcnt
                        (i32.and (i32.and (local.get $crs) (local.get $before))
                          (i32.xor (i32.shl (local.get $crBefore) (i32.sub (local.get $k) (i32.const 1))) (i32.const -1)))))))))
            (global.set $fields
              (i32.add (global.get $fields) (i32.popcnt (i32.and (local.get $delimiters) (local.get $before)))))
            (global.set $prevByte (i32.const 10))
            (if (call $endLine (i32.add (local.get $at) (local.get $k)) (f64.const 1) (local.get $crBefore))
              (then (return (i32.add (i32.add (local.get $at) (local.get $k)) (i32.const 1)))))
            (local.set $rest
              (i32.and (local.get $rest)
                (i32.xor (i32.sub (i32.shl (i32.const 2) (local.get $k)) (i32.const 1)) (i32.const -1))))
            (local.set $lfs (i32.and (local.get $lfs) (i32.sub (local.get $lfs) (i32.const 1))))
            (br $eachLf)))
        (if (local.get $rest)
          (then
            (global.set $fields
              (i32.add (global.get $fields) (i32.popcnt (i32.and (local.get $delimiters) (local.get $rest)))))
            (if (i32.and (local.get $rest) (i32.xor (local.get $crs) (i32.const -1)))
              (then (global.set $content (i32.const 1))))
            (if (local.get $crs)
              (then
                (global.set $bareCr
                  (f64.add (global.get $bareCr)
                    (f64.convert_i32_u
                      (i32.popcnt (i32.and (i32.and (local.get $crs) (local.get $rest)) (i32.const 0x7fff))))))
                (if (i32.and (local.get $crs) (i32.const 0x8000)) (then (global.set $pendingCr (i32.const 1))))))
            (global.set $prevByte (i32.load8_u offset=15 (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $groups)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $at) (local.get $length)))
        (if (call $byte (local.get $at))
          (then (return (i32.add (local.get $at) (i32.const 1)))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $tail)))
    (local.get $length))

  ;; The end of the text, at `base`: a carriage return at the very end is bare, and a last line without a line end
  ;; is a record if it has content (a quote left open to the end has). Returns `stop`.
  (func (export "finish") (result i32)
    (global.set $events (i32.const 0))
    (global.set $stop (i32.const 0))
    (if (global.get $pendingCr)
      (then
        (global.set $pendingCr (i32.const 0))
        (global.set $bareCr (f64.add (global.get $bareCr) (f64.const 1)))))
    (if (i32.and
          (i32.or (i32.ne (global.get $prevByte) (i32.const 10)) (global.get $quoted))
          (global.get $content))
      (then (drop (call $endLine (i32.const 0) (f64.const 0) (i32.const 0)))))
    (global.get $stop))
)
