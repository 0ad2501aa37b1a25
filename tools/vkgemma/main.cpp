// vkgemma CLI entry point: subcommands register themselves in commands.h.
#include <cstdio>
int main(int argc, char** argv) {
  std::fprintf(stderr, "vkgemma: no subcommands yet\n");
  return 2;
}
