/* threads.h: OpenMP runtime settings for the compute-heavy subcommands.
 *
 * libgomp spins idle threads at barriers by default. On a machine shared
 * with other jobs that is a loss: a spinning thread holds a core while the
 * thread it waits for is descheduled, and every op is a barrier. With 2
 * cores and other load, measured steps ran twice as fast with
 * OMP_WAIT_POLICY=PASSIVE (the setting the issue asks for PyTorch too);
 * on an idle machine it costs microseconds per parallel region, nothing
 * next to a training step. libgomp reads the variable when it loads, so
 * setting it means re-executing ourselves once. */
#ifndef CHIRP_CLI_THREADS_H
#define CHIRP_CLI_THREADS_H

/* If OMP_WAIT_POLICY is unset, sets it to PASSIVE and re-executes chirp
 * with the same arguments (cmd_argv is the argv a Command's run() gets;
 * the full command line starts one slot before it). Returns if the user
 * set the variable or the exec fails. */
void cli_prefer_passive_omp(char **cmd_argv);

#endif
