//! Pinning to CPUs (`sched_setaffinity`), shared by the lab examples and the
//! HTTP bench through `#[path]`: `switch_costs --cpus N`, `io_overlap --cpus N`
//! and the bench's server and client CPUs.

use std::io;

/// Pins the calling thread (and every thread and child process it starts
/// afterwards, which inherit the mask) to the first `n` CPUs it may run on;
/// returns them.
///
/// # Errors
///
/// `InvalidInput` when fewer than `n` CPUs are allowed (the message says how
/// many are), or the system call's error.
pub fn pin_to_first_cpus(n: usize) -> io::Result<Vec<usize>> {
    let allowed = allowed_cpus()?;
    if n == 0 || allowed.len() < n {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "--cpus {n}: pick from 1 to {} (the CPUs this process may use)",
                allowed.len()
            ),
        ));
    }
    let chosen = allowed[..n].to_vec();
    set_affinity(&chosen)?;
    Ok(chosen)
}

/// Pins the calling thread (and what it starts afterwards) to CPU `cpu`.
///
/// # Errors
///
/// `InvalidInput` when `cpu` is not one this process may use.
#[allow(dead_code)] // Not every includer pins to one given CPU.
pub fn pin_to(cpu: usize) -> io::Result<()> {
    set_affinity(&[cpu])
        .map_err(|e| io::Error::new(e.kind(), format!("cannot pin to CPU {cpu}: {e}")))
}

/// The CPUs the calling thread may run on, in order.
fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: all-zero bytes are the empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live, writable set of the size passed.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, inside the set.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Sets the calling thread's mask to exactly `cpus`. Makes no allocation
/// on success, so it is also fit for `Command::pre_exec`.
fn set_affinity(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: all-zero bytes are the empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: `cpu` is below CPU_SETSIZE, inside the set.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a live set of the size passed.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
