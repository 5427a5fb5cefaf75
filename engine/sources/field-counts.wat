;; The field-count loop of `field-counts.ts` over one block of at most 64 KiB of a CSV text whose quoting is clean:
;; a double quote toggles "inside a field", a delimiter outside quotes adds a field, a line feed outside quotes
;; ends the line. For each line it ends that is the header (the first line) or has content and a field count other
;; than the header's, it writes an event: [line index within this call, start of the line in the block (0 when it
;; began in an earlier block), end of the line in the block, line end included] as three i32 from EVENTS.
;;
;; Sixteen bytes at a time: a block of bytes without a quote is counted with bit masks (one bit per byte); a
;; block with a quote goes byte by byte. Regenerate the module in `field-counts.wasm.ts` with
;; `npm run build:wasm` (a unit test checks it was).
(module
  (memory (export "memory") 16) ;; 1 MiB: the block at 0, the events from EVENTS (at most one per byte: 768 KiB)
  (global $EVENTS i32 (i32.const 65536))
  (global $delimiter (mut i32) (i32.const 44))
  (global $fields (mut i32) (i32.const 1))
  (global $quoted (mut i32) (i32.const 0))
  (global $content (mut i32) (i32.const 0))
  (global $headerFields (mut i32) (i32.const -1))
  ;; Per call: where the current line started in the block, lines ended, events written.
  (global $lineStart (mut i32) (i32.const 0))
  (global $lineEnds (mut i32) (i32.const 0))
  (global $events (mut i32) (i32.const 0))

  (func (export "reset") (param $delimiter i32)
    (global.set $delimiter (local.get $delimiter))
    (global.set $fields (i32.const 1))
    (global.set $quoted (i32.const 0))
    (global.set $content (i32.const 0))
    (global.set $headerFields (i32.const -1)))

  (func (export "fields") (result i32) (global.get $fields))
  (func (export "content") (result i32) (global.get $content))
  (func (export "headerFields") (result i32) (global.get $headerFields))
  (func (export "lineEnds") (result i32) (global.get $lineEnds))
  (func (export "lineStart") (result i32) (global.get $lineStart))

  (func $emit (param $at i32)
    (local $event i32)
    (local.set $event (i32.add (global.get $EVENTS) (i32.mul (global.get $events) (i32.const 12))))
    (i32.store (local.get $event) (global.get $lineEnds))
    (i32.store offset=4 (local.get $event) (global.get $lineStart))
    (i32.store offset=8 (local.get $event) (i32.add (local.get $at) (i32.const 1)))
    (global.set $events (i32.add (global.get $events) (i32.const 1))))

  ;; A line feed outside quotes at block offset $at.
  (func $endLine (param $at i32)
    (if (i32.lt_s (global.get $headerFields) (i32.const 0))
      (then
        (global.set $headerFields (global.get $fields))
        (call $emit (local.get $at)))
      (else
        (if (i32.and (global.get $content) (i32.ne (global.get $fields) (global.get $headerFields)))
          (then (call $emit (local.get $at))))))
    (global.set $lineEnds (i32.add (global.get $lineEnds) (i32.const 1)))
    (global.set $fields (i32.const 1))
    (global.set $content (i32.const 0))
    (global.set $lineStart (i32.add (local.get $at) (i32.const 1))))

  ;; One byte, exactly as the JavaScript loop it replaces: a quote toggles and is content; inside quotes nothing
  ;; else counts; a delimiter adds a field; a line feed ends the line; any other byte but CR is content.
  (func $byte (param $at i32)
    (local $b i32)
    (local.set $b (i32.load8_u (local.get $at)))
    (if (i32.eq (local.get $b) (i32.const 34))
      (then
        (global.set $quoted (i32.xor (global.get $quoted) (i32.const 1)))
        (global.set $content (i32.const 1))
        (return)))
    (if (global.get $quoted) (then (return)))
    (if (i32.eq (local.get $b) (global.get $delimiter))
      (then
        (global.set $fields (i32.add (global.get $fields) (i32.const 1)))
        (global.set $content (i32.const 1))
        (return)))
    (if (i32.eq (local.get $b) (i32.const 10))
      (then
        (call $endLine (local.get $at))
        (return)))
    (if (i32.ne (local.get $b) (i32.const 13))
      (then (global.set $content (i32.const 1)))))

  ;; Counts the block [0, $length) ($length ≤ 65536); returns the events written.
  (func (export "scan") (param $length i32) (result i32)
    (local $at i32) (local $end i32) (local $byteEnd i32) (local $v v128)
    (local $quotes i32) (local $lfs i32) (local $delimiters i32) (local $crs i32)
    (local $rest i32) (local $k i32) (local $before i32)
    (local $vQuote v128) (local $vLf v128) (local $vDelimiter v128) (local $vCr v128)
    (global.set $lineStart (i32.const 0))
    (global.set $lineEnds (i32.const 0))
    (global.set $events (i32.const 0))
    (local.set $vQuote (i8x16.splat (i32.const 34)))
    (local.set $vLf (i8x16.splat (i32.const 10)))
    (local.set $vCr (i8x16.splat (i32.const 13)))
    (local.set $vDelimiter (i8x16.splat (global.get $delimiter)))
    (local.set $end (i32.and (local.get $length) (i32.const -16)))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $v (v128.load (local.get $at)))
        (local.set $quotes (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vQuote))))
        (if (i32.eqz (local.get $quotes))
          (then
            ;; Inside quotes a block without a quote changes nothing (line feeds in it are in a field).
            (if (i32.eqz (global.get $quoted))
              (then
                (local.set $lfs (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vLf))))
                (local.set $delimiters (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vDelimiter))))
                (local.set $crs (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vCr))))
                (local.set $rest (i32.const 0xffff)) ;; bytes of the block not yet counted
                (block $lfsDone
                  (loop $eachLf
                    (br_if $lfsDone (i32.eqz (local.get $lfs)))
                    (local.set $k (i32.ctz (local.get $lfs)))
                    (local.set $before
                      (i32.and (local.get $rest) (i32.sub (i32.shl (i32.const 1) (local.get $k)) (i32.const 1))))
                    (global.set $fields
                      (i32.add (global.get $fields) (i32.popcnt (i32.and (local.get $delimiters) (local.get $before)))))
                    (if (i32.and (local.get $before) (i32.xor (local.get $crs) (i32.const -1)))
                      (then (global.set $content (i32.const 1))))
                    (call $endLine (i32.add (local.get $at) (local.get $k)))
                    (local.set $rest
                      (i32.and (i32.const 0xffff)
                        (i32.xor (i32.sub (i32.shl (i32.const 2) (local.get $k)) (i32.const 1)) (i32.const -1))))
                    (local.set $lfs (i32.and (local.get $lfs) (i32.sub (local.get $lfs) (i32.const 1))))
                    (br $eachLf)))
                (global.set $fields
                  (i32.add (global.get $fields) (i32.popcnt (i32.and (local.get $delimiters) (local.get $rest)))))
                (if (i32.and (local.get $rest) (i32.xor (local.get $crs) (i32.const -1)))
                  (then (global.set $content (i32.const 1)))))))
          (else
            (local.set $byteEnd (i32.add (local.get $at) (i32.const 16)))
            (block $bytesDone
              (loop $bytes
                (br_if $bytesDone (i32.ge_u (local.get $at) (local.get $byteEnd)))
                (call $byte (local.get $at))
                (local.set $at (i32.add (local.get $at) (i32.const 1)))
                (br $bytes)))
            (local.set $at (i32.sub (local.get $at) (i32.const 16)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $blocks)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $at) (local.get $length)))
        (call $byte (local.get $at))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (br $tail)))
    (global.get $events))
)
