package doctor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/custom-misp/custom-misp/internal/cache"
)

const (
	// maxStoreCopy caps the cache store doctor copies to inspect. The
	// store bounds its keys and values to 64 MiB; bbolt's free pages add
	// some, a multiple of that means something else is wrong.
	maxStoreCopy = 512 << 20
	// storeLockWait is how long doctor waits for a run that is writing
	// the store (runs hold its lock for milliseconds).
	storeLockWait = 2 * time.Second
)

// storeCheck checks the disk cache integratord uses: that user wazuh can
// create or write it, that it opens without a warning, and whether
// integratord is pausing MISP calls (rate limit, circuit breaker).
//
// It never opens the real store: cache.Open repairs a damaged store by
// moving it aside and creating a new one, which as root would leave a
// store user wazuh cannot write. It inspects a copy instead.
func storeCheck(in Input) Result {
	cfg := in.Config
	if !cfg.CacheOn {
		return ok("cache", `off ("cache": "off"): every alert asks MISP`)
	}
	path := cfg.CachePath
	dirFix := fmt.Sprintf("chown root:wazuh %s; chmod 0770 %s", filepath.Dir(path), filepath.Dir(path))
	if dfi, err := os.Stat(filepath.Dir(path)); err == nil && in.writers(dfi) == "anyone" {
		return fail("cache", filepath.Dir(path)+" "+ownerText(dfi)+": anyone can write it, so any local user can replace the store with answers that hide indicators", dirFix)
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		for {
			if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
				break
			}
			dir = filepath.Dir(dir)
		}
		dfi, err := os.Stat(dir)
		if err == nil && (!in.User.Known || in.User.can(dfi, write|exec)) {
			return ok("cache", path+" does not exist yet; integratord creates it on its first lookup")
		}
		return warn("cache", fmt.Sprintf("%s does not exist and user wazuh cannot create it under %s: integratord runs without the disk cache and asks MISP for every alert", path, dir),
			installModeOf("var/custom-misp").Install("", filepath.Dir(path)))
	}
	if err != nil {
		return warn("cache", err.Error(), "check the cache_path option")
	}
	d := fmt.Sprintf("%s %s, %d KiB", path, ownerText(fi), fi.Size()>>10)
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fail("cache", path+" is a symbolic link: integratord refuses to follow it and runs without the disk cache (was it planted?)", "rm "+path+" (integratord creates a new store)")
	}
	if in.writers(fi) == "anyone" {
		return fail("cache", d+": anyone can write it, so any local user can plant answers that hide indicators", fmt.Sprintf("chmod 0660 %s", path))
	}
	if !fi.Mode().IsRegular() {
		return warn("cache", d+": not a regular file, so integratord runs without the disk cache", "point cache_path at a file, or remove what is there")
	}
	if in.User.Known && !in.User.can(fi, read|write) {
		return warn("cache", d+": user wazuh cannot write it, so integratord runs without the disk cache (was it created by a root run of custom-misp check?)",
			fmt.Sprintf("chown wazuh:wazuh %s; chmod 0660 %s", path, path))
	}
	gate, err := inspectCopy(in, path)
	if err != nil {
		return warn("cache", d+": "+err.Error(), "integratord moves a damaged store aside and starts a new one by itself; if this persists, stop the manager and delete "+path)
	}
	if !gate.Allow {
		return warn("cache", fmt.Sprintf("%s: integratord has paused MISP lookups until %s after %s errors", d, gate.Until.UTC().Format("15:04:05 UTC"), gate.Class),
			"the pause ends by itself; fix the cause the MISP checks above show")
	}
	return ok("cache", d+": healthy, MISP lookups not paused")
}

// inspectCopy copies the store under a shared lock (bbolt writers take an
// exclusive one, so the copy is consistent), opens the copy as
// integratord would and returns its protection state.
func inspectCopy(in Input, path string) (cache.Gate, error) {
	// O_NOFOLLOW: doctor runs as root, and a link planted in the cache
	// directory must not make it read another file.
	src, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return cache.Gate{}, err
	}
	defer src.Close()
	if err := lockShared(src, storeLockWait); err != nil {
		return cache.Gate{}, err
	}
	defer syscall.Flock(int(src.Fd()), syscall.LOCK_UN)

	tmp, err := os.MkdirTemp("", "custom-misp-doctor-")
	if err != nil {
		return cache.Gate{}, fmt.Errorf("cannot copy the store to inspect it: %w", err)
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "cache.db")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return cache.Gate{}, fmt.Errorf("cannot copy the store to inspect it: %w", err)
	}
	n, err := io.Copy(out, io.LimitReader(src, maxStoreCopy+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return cache.Gate{}, fmt.Errorf("cannot copy the store to inspect it: %w", err)
	}
	if n > maxStoreCopy {
		return cache.Gate{}, fmt.Errorf("store larger than %d MiB, far beyond its own bound", maxStoreCopy>>20)
	}
	opts := in.Cache
	opts.Path = dst
	opts.Now = in.Now
	c, warnErr := cache.Open(opts)
	gate := c.Gate()
	c.Close()
	if warnErr != nil {
		// The warning names the copy and what Open did to it; say it of
		// the real store, without the repair that happened to the copy.
		msg := strings.ReplaceAll(warnErr.Error(), dst, path)
		if i := strings.Index(msg, "; moved aside"); i >= 0 {
			msg = msg[:i]
		}
		return gate, errors.New(msg)
	}
	return gate, nil
}

func lockShared(f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return fmt.Errorf("store locked by another process for %s", wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
