package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/options"
)

// command is one subcommand, in the manner of the go command.
type command struct {
	name      string
	usageLine string
	short     string
	long      string
	// run parses its own flags from fs and does the work.
	run func(c *cli, fs *flag.FlagSet, args []string) error
	// flags declares the command's flags on fs and returns the values.
	flags func(fs *flag.FlagSet) any
	// images marks the commands that hold whole images as float planes
	// (restore, batch, serve): they run under imageGCPercent.
	images bool
}

// imageGCPercent is the garbage collector's target while a command holds
// whole images, unless GOGC is set: their heap is float planes, with no
// pointers to mark, so a collection costs little, while the default
// target (100) lets the heap grow to twice what is live. quantfit restore
// of a 16 MP photograph went from 5.77 GB at peak and 41.4 s to 3.59 GB
// and 36.8 s, of a 4 MP one from 1.53 GB to 0.93 GB at the same speed; a
// stack estimate, which allocates small pieces, lost 4% of its speed at
// 25 (bench/RESULTS.md).
const imageGCPercent = 25

// cli carries the writers of one invocation.
type cli struct {
	stdout, stderr io.Writer
}

var commands []*command

// run is the whole program: main only calls it.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) > 1 {
			if cmd := lookup(args[1]); cmd != nil {
				c.commandUsage(cmd, flag.NewFlagSet(cmd.name, flag.ContinueOnError))
				return 0
			}
			fmt.Fprintf(stderr, "quantfit help: unknown command %q\n", args[1])
			return 2
		}
		c.usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "quantfit: unknown command %q\nRun 'quantfit help' for usage.\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.images && os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(imageGCPercent))
	}
	err := cmd.run(c, fs, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		c.commandUsage(cmd, fs)
		return 0
	}
	fmt.Fprintf(stderr, "quantfit %s: %v\n", cmd.name, err)
	var ue options.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run 'quantfit help %s' for usage.\n", cmd.name)
		return 2
	}
	return 1
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, `quantfit finds the parameters of pixel-wise image filters from pairs of
original and filtered images.

Usage:

	quantfit <command> [arguments]

The commands are:

`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "\t%-10s %s\n", cmd.name, cmd.short)
	}
	fmt.Fprint(w, "\nUse \"quantfit help <command>\" for more information about a command.\n")
}

func (c *cli) commandUsage(cmd *command, fs *flag.FlagSet) {
	w := c.stdout
	fmt.Fprintf(w, "usage: quantfit %s\n\n%s\n", cmd.usageLine, strings.TrimSpace(cmd.long))
	// A fresh set: after -h the command's own set already holds its flags.
	fs = flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// parse parses flags before, between and after the arguments, as people
// type them (`quantfit estimate a.png a-q.png -model posterize`); "--" ends
// the flags, and fs.Args() holds the arguments in order. Flag errors
// become usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return options.UsageError{Err: err}
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// Parse again with the arguments alone, so that fs.Args() is them.
	return fs.Parse(append([]string{"--"}, pos...))
}

// openBackend opens the backend the options ask for. A service probes
// for the GPU at start, so that its readiness report and its worker count
// know; a one-shot command opens it only if its data go there.
func openBackend(o *options.Options, stderr io.Writer, probe bool) (estimate.Backend, func(), error) {
	name, debug := o.Backend()
	be, release, err := backend.Open(name, gpu.Options{Debug: debug, DebugLog: stderr}, stderr)
	if err != nil {
		return nil, release, options.UsageError{Flag: "backend", Err: fmt.Errorf("-backend %s: %w", name, err)}
	}
	if a, ok := be.(*backend.Auto); ok && probe {
		a.Probe()
	}
	return be, release, nil
}
