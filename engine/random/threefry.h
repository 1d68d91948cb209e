// Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; the
// Random123 reference and JAX's threefry2x32 compute the same function). Header-only and free of std::
// dependencies so CPU kernels and future CUDA kernels share one definition: the word type is a template
// parameter, so the same code runs on uint32_t and on GCC/Clang vector types (8 lanes of u32 under AVX2).
//
// How the engine uses it (the bit mapping; JAX's "partitionable" threefry scheme, its default since 0.5):
//   random_bits(key, shape)[k..., i]  = x0 ^ x1  of threefry2x32(key[k...], (hi32(i), lo32(i)))
//                                       where i is the row-major index of the element within `shape`;
//   random_fold_in(key, d)[k...]      = (x0, x1) of threefry2x32(key[k...], (0, d[k...]));
//   random_split(key, n)[k..., j]     = random_fold_in(key, j)   (so split(key, n)[j] == fold_in(key, j)).
// Every element depends only on its key and its own index, never on the thread that computes it.
#pragma once
#include <stdint.h>

#if defined(__CUDACC__)
#define QGF_HOST_DEVICE __host__ __device__
#else
#define QGF_HOST_DEVICE
#endif

namespace engine::random {

inline constexpr uint32_t kThreefryParity = 0x1BD11BDAu;  // Skein's key-schedule parity constant
inline constexpr int kThreefryRounds = 20;

// Rotation distances of Threefry-2x32, one per round, repeating with period 8.
QGF_HOST_DEVICE inline constexpr int threefry_rotation(int round) {
  constexpr int r[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  return r[round & 7];
}

template <class W>
QGF_HOST_DEVICE inline W threefry_rotl(W x, int r) {
  return (x << r) | (x >> (32 - r));
}

// Encrypts the counter (x0, x1) in place under the key (k0, k1). W is uint32_t or a vector of u32 lanes that
// supports +, ^, |, << and >> (GCC/Clang vector extensions; CUDA uses uint32_t).
template <class W>
QGF_HOST_DEVICE inline void threefry2x32(W k0, W k1, W& x0, W& x1) {
  const W ks[3] = {k0, k1, k0 ^ k1 ^ kThreefryParity};
  x0 += ks[0];
  x1 += ks[1];
#if defined(__CUDACC__) || defined(__clang__)
#pragma unroll
#elif defined(__GNUC__)
#pragma GCC unroll 20
#endif
  for (int r = 0; r < kThreefryRounds; ++r) {
    x0 += x1;
    x1 = threefry_rotl(x1, threefry_rotation(r));
    x1 ^= x0;
    if ((r & 3) == 3) {  // key injection after every fourth round
      const int s = (r >> 2) + 1;
      x0 += ks[s % 3];
      x1 += ks[(s + 1) % 3] + static_cast<uint32_t>(s);
    }
  }
}

// Scalar convenience form: returns both output words.
struct ThreefryOut {
  uint32_t x0, x1;
};
QGF_HOST_DEVICE inline ThreefryOut threefry2x32_scalar(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1) {
  threefry2x32<uint32_t>(k0, k1, c0, c1);
  return {c0, c1};
}

// The 32 random bits of element `index` under key (k0, k1): the two output words of counter
// (hi32(index), lo32(index)) xor-ed together (as jax.random.bits with 32-bit output).
QGF_HOST_DEVICE inline uint32_t threefry_bits32(uint32_t k0, uint32_t k1, uint64_t index) {
  uint32_t x0 = static_cast<uint32_t>(index >> 32), x1 = static_cast<uint32_t>(index);
  threefry2x32<uint32_t>(k0, k1, x0, x1);
  return x0 ^ x1;
}

}  // namespace engine::random
