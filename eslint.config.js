// ESLint flat config: typescript-eslint with type information, so that
// floating promises and `any` are caught, not just style.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      'bin/**',
      'scripts/*.mjs',
      'scripts/*.cjs',
      'test/fixtures/**/*.mjs',
      'examples/**/*.mjs',
      'bench/lib/*.mjs',
      'eslint.config.js',
      'dashboard/vite.config.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='it'][property.name='only']", message: '.only is banned' },
        { selector: "MemberExpression[object.name='describe'][property.name='only']", message: '.only is banned' },
      ],
    },
  },
  {
    // Tests read JSON answers of the hub: untyped access to them is the point, not a leak.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
);
