import { drive } from './drive.ts'

drive(import.meta.filename)
