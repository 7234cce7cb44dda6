// PAGEDKV_HD marks the functions of core/ that device code calls too: one definition, both sides.
#pragma once

#if defined(__CUDACC__)
#define PAGEDKV_HD __host__ __device__
#else
#define PAGEDKV_HD
#endif
