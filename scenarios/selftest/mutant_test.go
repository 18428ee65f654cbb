package selftest

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestMutantsApplyAndBuild catches a service change that breaks a mutant: the patch no
// longer applies, or the patched copy no longer builds. The message says how to regenerate it.
// With -short (make test, whose self-test run builds every mutant anyway) it checks only
// that the patches apply.
func TestMutantsApplyAndBuild(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to apply the mutants' patches")
	}
	root := moduleRoot(t)
	patches := map[string]string{} // variant name: patch, the soak's variants included
	for _, v := range Variants() {
		if v.Patch != "" {
			patches[v.Name] = v.Patch
		}
	}
	for _, v := range SoakVariants() {
		patches[v.Name] = v.Patch()
	}
	for _, v := range slices.Sorted(maps.Keys(patches)) {
		v := struct{ Name, Patch string }{v, patches[v]}
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			b := Builder{Root: root}
			dir, err := b.Copy(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Apply(ctx, dir, v.Patch); err != nil {
				t.Fatalf("%v", err)
			}
			for _, f := range patchedFiles(t, v.Patch) {
				before, _ := os.ReadFile(filepath.Join(root, f))
				after, _ := os.ReadFile(filepath.Join(dir, f))
				if string(before) == string(after) {
					t.Errorf("%s: %s unchanged in the copy", v.Patch, f)
				}
				if now, _ := os.ReadFile(filepath.Join(root, f)); string(now) != string(before) {
					t.Errorf("%s: the repository's %s changed", v.Patch, f)
				}
			}
			if testing.Short() {
				return
			}
			if err := b.Check(ctx, dir); err != nil {
				t.Fatalf("mutant %s no longer builds; regenerate %s/%s with `go run ./scenarios/selftest/cmd/selftest edit %s`: %v",
					v.Name, MutantDir, v.Patch, v.Name, err)
			}
		})
	}
}

// patchedFiles returns the files a patch changes, relative to the module root.
func patchedFiles(t *testing.T, name string) []string {
	t.Helper()
	patch, err := Patch(name)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for line := range strings.Lines(string(patch)) {
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "+++ b/"); ok {
			files = append(files, filepath.FromSlash(f))
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s changes no file", name)
	}
	return files
}

func TestApplyStalePatchSaysHowToRegenerate(t *testing.T) {
	root := t.TempDir()
	health := filepath.Join(root, "service", "internal", "httpapi", "health.go")
	for path, content := range map[string]string{
		filepath.Join(root, "go.mod"): "module example.com/x\n",
		filepath.Join(root, "go.sum"): "",
		health:                        "package httpapi\n\n// The code the patch changes has moved on.\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := Builder{Root: root}
	dir, err := b.Copy(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = b.Apply(t.Context(), dir, "health-ignores-redis.patch")
	if !errors.Is(err, ErrPatchStale) {
		t.Fatalf("apply to changed source: %v, want ErrPatchStale", err)
	}
	for _, want := range []string{"health-ignores-redis.patch", "selftest edit health-ignores-redis", "service/internal/httpapi/health.go"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if got, _ := os.ReadFile(health); !strings.Contains(string(got), "moved on") {
		t.Error("Apply changed the source it copied")
	}
}

// TestEditAndSave writes a new mutant the way a developer would and checks that the saved
// patch applies to a fresh copy.
func TestEditAndSave(t *testing.T) {
	module := moduleRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	// A module root of our own, so that Save writes its patch there.
	root, err := Builder{Root: module}.Copy(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, MutantDir), 0o750); err != nil {
		t.Fatal(err)
	}
	b := Builder{Root: root}
	dir, applied, err := b.Edit(ctx, "new-mutant.patch")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if applied {
		t.Error("a new mutant reported as applied")
	}
	if err := b.Save(ctx, dir, "new-mutant.patch"); err == nil {
		t.Error("saving an unchanged copy succeeded")
	}
	target := filepath.Join(dir, "service", "internal", "httpapi", "errors.go")
	src, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), "return http.StatusConflict", "return http.StatusTeapot", 1)
	if changed == string(src) {
		t.Fatal("errors.go no longer maps conflict to 409; pick another change for this test")
	}
	if err := os.WriteFile(target, []byte(changed), 0o600); err != nil { //nolint:gosec // a file of the test's own copy
		t.Fatal(err)
	}
	if err := b.Save(ctx, dir, "new-mutant.patch"); err != nil {
		t.Fatal(err)
	}
	patch, err := os.ReadFile(filepath.Join(root, MutantDir, "new-mutant.patch"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(patch), "+++ b/service/internal/httpapi/errors.go") ||
		!strings.Contains(string(patch), "+\t\treturn http.StatusTeapot") {
		t.Fatalf("saved patch:\n%s", patch)
	}
	fresh, err := b.Copy(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "git", "apply", "--check", filepath.Join(root, MutantDir, "new-mutant.patch")) //nolint:gosec // the test's own patch
	cmd.Dir = fresh
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(fresh))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("saved patch does not apply to a fresh copy: %v: %s", err, out)
	}
}
