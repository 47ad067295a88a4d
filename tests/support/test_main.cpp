#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "shiftbook/crypto.h"

int main(int argc, char** argv) {
  if (!shiftbook::crypto_init().is_ok()) return 1;
  doctest::Context context(argc, argv);
  return context.run();
}
