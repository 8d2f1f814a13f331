# libFuzzer targets (fuzz/fuzz_*.cpp) and the seed-corpus writer (fuzz/make_corpus.cpp); clang only.
# Included by CMakeLists.txt when EEB_FUZZ=ON. Use a build folder of its own (scripts/fuzz.sh uses
# build-fuzz): every C/C++ target of that build, defined before or after this file, is compiled with
# ASan + UBSan (UB aborts) and libFuzzer coverage, so the libraries under test report inside the
# fuzzer. Targets: fuzz_<name> for each fuzz/fuzz_<name>.cpp, eeb_fuzz_corpus, eeb_fuzz (all).
include_guard(GLOBAL)

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "EEB_FUZZ needs clang (libFuzzer): configure a separate build folder with "
                      "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ (scripts/fuzz.sh does)")
endif()

if(EEB_HAVE_CUDA)
  message(FATAL_ERROR "EEB_FUZZ: configure with -DEEB_CUDA=OFF (the fuzz build instruments C/C++ only)")
endif()

set(EEB_FUZZ_COMPILE -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
    -fsanitize=fuzzer-no-link)
set(EEB_FUZZ_LINK -fsanitize=address,undefined)

# Targets defined after this file...
add_compile_options(${EEB_FUZZ_COMPILE})
add_link_options(${EEB_FUZZ_LINK})
# ...and those defined before it.
get_property(eeb_existing DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
foreach(t ${eeb_existing})
  get_target_property(type ${t} TYPE)
  if(type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY|MODULE_LIBRARY|EXECUTABLE)$")
    target_compile_options(${t} PRIVATE ${EEB_FUZZ_COMPILE})
    target_link_options(${t} PRIVATE ${EEB_FUZZ_LINK})
  endif()
endforeach()

file(GLOB EEB_FUZZ_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.cpp)
set(EEB_FUZZ_TARGETS)
foreach(src ${EEB_FUZZ_SRCS})
  get_filename_component(n ${src} NAME_WE)
  add_executable(${n} ${src})
  if(n STREQUAL "fuzz_run_spec")
    target_link_libraries(${n} PRIVATE eeb_harness)  # the spec reader validates tasks and strategies
  elseif(n STREQUAL "fuzz_tokenizer_json")
    target_link_libraries(${n} PRIVATE eeb_tokenizer)  # the tokenizer.json reader and the BPE encoder
  else()
    target_link_libraries(${n} PRIVATE eeb_tasks eeb_tokenizer eeb_model)
  endif()
  target_include_directories(${n} PRIVATE ${CMAKE_SOURCE_DIR})
  target_link_options(${n} PRIVATE -fsanitize=fuzzer)
  list(APPEND EEB_FUZZ_TARGETS ${n})
endforeach()

add_executable(eeb_fuzz_corpus ${CMAKE_SOURCE_DIR}/fuzz/make_corpus.cpp)
target_link_libraries(eeb_fuzz_corpus PRIVATE eeb_model)
target_include_directories(eeb_fuzz_corpus PRIVATE ${CMAKE_SOURCE_DIR})
add_custom_target(eeb_fuzz DEPENDS ${EEB_FUZZ_TARGETS} eeb_fuzz_corpus)
