// catch_main.cc: the one Catch2 main shared by every unit-test binary (test thread only).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
