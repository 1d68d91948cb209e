// qgf_offline: offline RL with Q-guided flow policies, end to end (see app.h and docs in cli.cpp's --help).
#include "app.h"

int main(int argc, char** argv) { return qgf_offline_main(argc, argv); }
