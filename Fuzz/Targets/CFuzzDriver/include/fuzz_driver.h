// libFuzzer's driver (libclang_rt.fuzzer, linked by -sanitize=fuzzer): runs
// the fuzzing loop with `callback` as the target, reading libFuzzer's flags
// from argc/argv. Called from each target's main.swift, because SwiftPM
// renames an executable's entry point on Linux and points `main` at it, so
// libFuzzer's own main() never runs. Each target still exports its function
// as LLVMFuzzerTestOneInput: -sanitize=fuzzer links libFuzzer's main object
// anyway, and it refers to that name.
#ifndef GREENROOM_FUZZ_DRIVER_H
#define GREENROOM_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
