/**
 * The integration emulators' base is the shared HTTP emulator of @coldcopy/testing (server, request
 * log, faults, control API with /__emulator/health); this path stays for the emulators that import it.
 */
export {
  type Answer,
  type ControlRoute,
  type EmulatorRequest,
  type Fault,
  HttpEmulator,
  type RequestLogEntry as LogEntry,
  type Route,
  send,
  SlidingWindow as RollingWindow,
} from '@coldcopy/testing/emulator';
