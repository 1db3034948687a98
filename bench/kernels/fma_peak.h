// The machine's f32 FMA ceiling on the dispatched Highway target, so kernel speeds can be reported as
// a fraction of peak.
#pragma once

#include <cstdint>

namespace edgeq::kernels::bench {
// Runs `iterations` rounds of independent FMA chains; returns the number of multiply-adds performed.
// The caller times it. `sink` defeats dead-code elimination.
int64_t run_fma_peak(int64_t iterations, float* sink);
}  // namespace edgeq::kernels::bench
