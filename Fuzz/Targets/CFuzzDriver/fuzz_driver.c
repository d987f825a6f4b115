// Declarations only (see include/fuzz_driver.h); SwiftPM needs one source file.
#include "fuzz_driver.h"
