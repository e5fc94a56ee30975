import { InvalidArgumentError } from 'commander';

/** commander argument parsers shared by the benches. */
export const int =
	(min: number) =>
	(value: string): number => {
		const n = Number(value);
		if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
		return n;
	};

export const seconds = (value: string): number => {
	const n = Number(value);
	if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
	return n;
};
