// Measured FMA peak per core (12 independent FMA chains, registers only), AVX-512 and AVX2: the
// ceiling for the GEMM numbers of gemm_bench.cc. Build: g++ -O2 bench/kernels/fma_peak.cc -o /tmp/fma_peak
#include <immintrin.h>
#include <cstdio>
#include <ctime>
__attribute__((target("avx512f,fma"))) double run512(long iters) {
  __m512 a[12]; __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(i);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
  }
  float t[16]; float s = 0; for (int i = 0; i < 12; ++i) { _mm512_storeu_ps(t, a[i]); s += t[0]; }
  return s;
}
__attribute__((target("avx2,fma"))) double run256(long iters) {
  __m256 a[12]; __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(i);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], b, c);
  }
  float t[8]; float s=0; for (int i = 0; i < 12; ++i) { _mm256_storeu_ps(t,a[i]); s+=t[0]; }
  return s;
}
static double now(){timespec ts; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&ts); return ts.tv_sec+ts.tv_nsec*1e-9;}
int main(){ long n=50000000; double best=1e9,best2=1e9, sink=0;
 for(int r=0;r<5;r++){double t=now(); sink+=run512(n); t=now()-t; if(t<best)best=t; t=now(); sink+=run256(n); t=now()-t; if(t<best2)best2=t;}
 printf("avx512 %.1f GFLOP/s/core, avx2 %.1f GFLOP/s/core (checksum %g)\n", n*12*32.0/best/1e9, n*12*16.0/best2/1e9, sink); }
