// The program's entry point as a function, so main.cpp is one line and the tests can run the whole program
// in-process. Exit codes: 0 done, 1 runtime error (data, checkpoint, engine), 2 usage error (flags, config),
// 130 interrupted (Ctrl-C; a checkpoint was written when training).
#pragma once

int qgf_offline_main(int argc, char** argv);
