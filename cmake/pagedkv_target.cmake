# pagedkv_usage_requirements(TARGET INCLUDE_DIR): what a target linking pagedkv::pagedkv gets.
# The one definition of pagedkv's CMake target, used by the root CMakeLists.txt (add_subdirectory,
# FetchContent) and by the installed pagedkvConfig.cmake (find_package). docs/cmake.md.
#  - INCLUDE_DIR, which holds pagedkv/pagedkv.hpp;
#  - C++20 (cxx_std_20), and cuda_std_20 for CUDA sources when the CUDA language is enabled
#    before this runs (project(... LANGUAGES CXX CUDA) or enable_language(CUDA)); otherwise set
#    CMAKE_CUDA_STANDARD 20 yourself. CMake before 3.26 has no cuda_std_20 for nvcc: the target
#    then passes nvcc's -std=c++20 (so leave CMAKE_CUDA_STANDARD unset: nvcc rejects two -std);
#  - xxHash's include directory (xxhash.h: the prefix cache's content keys), found through
#    pkg-config when it is there, else on the default paths; Debian: libxxhash-dev.
# Sets pagedkv_XXHASH_INCLUDE_DIR; returns with pagedkv_usage_requirements_ERROR set (the reason)
# and the target unchanged when xxhash.h is not found.
function(pagedkv_usage_requirements target include_dir)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_PAGEDKV_XXHASH QUIET libxxhash)
  endif()
  find_path(pagedkv_XXHASH_INCLUDE_DIR xxhash.h HINTS ${PC_PAGEDKV_XXHASH_INCLUDE_DIRS}
            DOC "Directory of xxHash's xxhash.h, needed by pagedkv")
  if(NOT pagedkv_XXHASH_INCLUDE_DIR)
    set(pagedkv_usage_requirements_ERROR
        "pagedkv needs xxHash's header xxhash.h (Debian: apt install libxxhash-dev), or set pagedkv_XXHASH_INCLUDE_DIR"
        PARENT_SCOPE)
    return()
  endif()
  target_include_directories(${target} INTERFACE "${include_dir}" "${pagedkv_XXHASH_INCLUDE_DIR}")
  target_compile_features(${target} INTERFACE cxx_std_20)
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(CUDA IN_LIST languages AND cuda_std_20 IN_LIST CMAKE_CUDA_COMPILE_FEATURES)
    target_compile_features(${target} INTERFACE cuda_std_20)
  elseif(CUDA IN_LIST languages)  # CMake < 3.26 knows no C++20 for nvcc: pass nvcc's flag itself
    target_compile_options(${target} INTERFACE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>)
  endif()
  unset(pagedkv_usage_requirements_ERROR PARENT_SCOPE)
endfunction()
