# Builds bench/spawnbench from the project's own library objects with the
# Makefile's exact CFLAGS/LDFLAGS. Used by bench/run-all.sh as
#   make -f Makefile -f bench/spawnbench.mk BUILD=bench/out/build bench/out/build/spawnbench
# (a private BUILD folder, so a concurrent `make` in build/ is never raced).
# The objects are whatever the Makefile's LIB_OBJ holds for the core base and
# the sandbox (including a generated seccomp program, when there is one, and
# the embedded sandbox init).
SPAWNBENCH_OBJ := $(filter $(BUILD)/core/base/% $(BUILD)/sandbox/% $(BUILD)/seccomp_policy.o $(BUILD)/init_image.o,$(LIB_OBJ))

$(BUILD)/spawnbench: bench/spawnbench.c $(SPAWNBENCH_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) -Wl,--as-needed -lseccomp -lcap -lpthread
