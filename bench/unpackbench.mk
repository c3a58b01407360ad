# Builds bench/unpackbench from the project's store and core base objects
# with the Makefile's exact CFLAGS/LDFLAGS (used by bench/run-all.sh as
#   make -f Makefile -f bench/unpackbench.mk BUILD=bench/out/build bench/out/build/unpackbench
# in a private BUILD folder, like spawnbench).
UNPACKBENCH_OBJ := $(filter $(BUILD)/core/base/% $(BUILD)/store/image%,$(LIB_OBJ))

$(BUILD)/unpackbench: bench/unpackbench.c $(UNPACKBENCH_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)
