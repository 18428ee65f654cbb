package selftest

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/faultline/faultline/chaos"
)

// mutantFiles holds the patches; a patch changed on disk is picked up by the next build.
//
//go:embed mutants/*.patch
var mutantFiles embed.FS

// MutantDir is where the patches live, relative to the module root.
const MutantDir = "scenarios/selftest/mutants"

// sourcePaths is what a mutant copy holds: the module files and the service tree, which
// imports nothing else of the module.
var sourcePaths = []string{"go.mod", "go.sum", "service"}

// servicePackage is the main package of the reference service.
const servicePackage = "./service/cmd/chatd"

// Patch returns the content of the named patch under mutants/.
func Patch(name string) ([]byte, error) {
	b, err := mutantFiles.ReadFile("mutants/" + name)
	if err != nil {
		return nil, fmt.Errorf("read mutant patch %s: %w", name, err)
	}
	return b, nil
}

// PatchNames returns the names of every patch under mutants/.
func PatchNames() ([]string, error) {
	entries, err := fs.ReadDir(mutantFiles, "mutants")
	if err != nil {
		return nil, fmt.Errorf("list mutant patches: %w", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}

// Builder makes mutant copies of the service from the module at Root.
type Builder struct {
	// Root is the module root: the directory of go.mod.
	Root string
	// Race builds binaries with the race detector.
	Race bool
	// Log receives the output of the commands run; nil discards it.
	Log io.Writer
}

// ErrPatchStale marks a patch that no longer applies to the service source.
var ErrPatchStale = errors.New("no longer applies to the current service source")

// Copy copies the service source of the module (go.mod, go.sum, service/) into a new
// directory under parent ("" for the system's temporary directory) and returns it. The
// caller removes it.
func (b Builder) Copy(parent string) (string, error) {
	dir, err := os.MkdirTemp(parent, "faultline-mutant-")
	if err != nil {
		return "", fmt.Errorf("copy service source: %w", err)
	}
	for _, p := range sourcePaths {
		if err := copyTree(filepath.Join(b.Root, p), filepath.Join(dir, p)); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("copy service source: %w", err)
		}
	}
	return dir, nil
}

// Apply applies the named patch to a copy made by Copy. A patch that does not apply wraps
// ErrPatchStale and says how to regenerate it.
func (b Builder) Apply(ctx context.Context, dir, name string) error {
	patch, err := Patch(name)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", "apply", "--verbose", "-")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(patch)
	cmd.Stdout = b.log()
	cmd.Stderr = io.MultiWriter(&stderr, b.log())
	// The copy is no repository; keep git from finding one above it and applying the
	// patch relative to that one's root.
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("apply %s: %w", name, ctx.Err())
		}
		return fmt.Errorf("mutant patch %s %w (%w): regenerate it with "+
			"`go run ./scenarios/selftest/cmd/selftest edit %s`, fix the copy, then `... save %s <dir>`: %s",
			name, ErrPatchStale, err, strings.TrimSuffix(name, ".patch"), strings.TrimSuffix(name, ".patch"),
			strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Build builds the service in dir (a copy, or the module root) to the binary out.
func (b Builder) Build(ctx context.Context, dir, out string) error {
	// -trimpath keeps the directory out of the build, so every package a patch leaves alone
	// is the same build action in every copy, and comes from the cache.
	args := []string{"build", "-trimpath", chaos.LDFlags, "-o", out}
	if b.Race {
		args = append(args, "-race")
	}
	args = append(args, servicePackage)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stdout = b.log()
	cmd.Stderr = io.MultiWriter(&stderr, b.log())
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("go build %s: %w", servicePackage, ctx.Err())
		}
		return fmt.Errorf("go build %s in %s: %w: %s", servicePackage, dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Check compiles every package of the service in dir without linking a binary: what a
// patch can break, at a fraction of a build's cost.
func (b Builder) Check(ctx context.Context, dir string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "./service/...")
	cmd.Dir = dir
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./service/... in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Mutant copies the service, applies the named patch and builds the result to out, leaving
// the service under Root untouched; the copy is removed afterwards.
func (b Builder) Mutant(ctx context.Context, name, out string) error {
	dir, err := b.Copy("")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := b.Apply(ctx, dir, name); err != nil {
		return err
	}
	if err := b.Build(ctx, dir, out); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("mutant %s does not build: %w", name, err)
	}
	return nil
}

// Edit prepares a git repository holding a copy of the current service source, committed,
// with as much of the named patch applied as still fits (rejected hunks are left in *.rej
// files). A developer fixes the copy and hands the directory to Save.
func (b Builder) Edit(ctx context.Context, name string) (dir string, applied bool, err error) {
	dir, err = b.Copy("")
	if err != nil {
		return "", false, err
	}
	git := func(args ...string) error {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		cmd.Stdout = b.log()
		cmd.Stderr = io.MultiWriter(&stderr, b.log())
		cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir),
			"GIT_AUTHOR_NAME=selftest", "GIT_AUTHOR_EMAIL=selftest@localhost",
			"GIT_COMMITTER_NAME=selftest", "GIT_COMMITTER_EMAIL=selftest@localhost")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", "service source"}} {
		if err := git(args...); err != nil {
			return dir, false, fmt.Errorf("edit %s: %w", name, err)
		}
	}
	patchPath := filepath.Join(b.Root, MutantDir, name)
	if _, err := os.Stat(patchPath); errors.Is(err, fs.ErrNotExist) {
		// A new mutant: start from the clean copy.
		return dir, false, nil
	}
	// A failure leaves the rejected hunks in *.rej files for the developer to fix.
	applyErr := git("apply", "--reject", patchPath)
	return dir, applyErr == nil, nil
}

// Save writes the changes made in a directory prepared by Edit as the named patch under
// mutants/, and checks that it builds.
func (b Builder) Save(ctx context.Context, dir, name string) error {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", "diff", "--no-color", "--no-ext-diff", "--", ".", ":(exclude)*.rej", ":(exclude)*.orig")
	cmd.Dir = dir
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("save %s: git diff: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	if stdout.Len() == 0 {
		return fmt.Errorf("save %s: %s has no changes to the service source", name, dir)
	}
	if err := b.Build(ctx, dir, os.DevNull); err != nil {
		return fmt.Errorf("save %s: the edited copy does not build: %w", name, err)
	}
	path := filepath.Join(b.Root, MutantDir, name)
	if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil { //nolint:gosec // a source file, read by everyone
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

func (b Builder) log() io.Writer {
	if b.Log == nil {
		return io.Discard
	}
	return b.Log
}

// copyTree copies the file or directory src to dst, regular files and directories only.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o750)
		case !d.Type().IsRegular():
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// ModuleRoot walks up from dir to the nearest directory holding go.mod.
func ModuleRoot(dir string) (string, error) { return chaos.ModuleRoot(dir) }
