// A small, portable random number generator for the environments and data generators (xoshiro256**, seeded
// through splitmix64). std::mt19937 would do for the bits, but std::uniform_real_distribution and
// std::normal_distribution are implementation-defined, so data generated with them could differ between
// standard libraries; everything here is spelled out, so a seed gives the same numbers everywhere.
// Streams are derived per (seed, index) pairs so that work split over threads stays deterministic.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

namespace rl {

class Rng {
  __extension__ typedef unsigned __int128 u128;  // __extension__: -Wpedantic accepts the GCC/Clang type

 public:
  explicit Rng(uint64_t seed = 0) { this->seed(seed); }

  // An independent stream for item `index` of a run seeded with `seed` (episode k of a data set, env k of a
  // batch): both words go through splitmix64, so nearby seeds and indices give unrelated streams.
  static Rng stream(uint64_t seed, uint64_t index) {
    uint64_t s = seed;
    uint64_t a = splitmix(s);
    s = index ^ (a + 0x9E3779B97F4A7C15ull);
    return Rng(splitmix(s) ^ a);
  }

  void seed(uint64_t seed) {
    uint64_t s = seed;
    for (uint64_t& w : s_) w = splitmix(s);
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject). n must be > 0.
  uint64_t below(uint64_t n) {
    u128 m = (u128)next_u64() * n;
    uint64_t low = uint64_t(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = (u128)next_u64() * n;
        low = uint64_t(m);
      }
    }
    return uint64_t(m >> 64);
  }

  // Two independent standard normals (Box-Muller). Always consumes exactly two uniforms, which keeps the
  // stream position a simple function of the number of calls.
  std::array<double, 2> normal2() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 2.0 * 3.14159265358979323846 * u2;
    return {r * std::cos(a), r * std::sin(a)};
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::array<uint64_t, 4> s_{};
};

}  // namespace rl
